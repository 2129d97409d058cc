#!/bin/sh
# Install the Debian packages the relay test bed needs: Postfix, and Dovecot as
# its SASL backend (dovecot-core holds the auth server; no IMAP/POP3 needed).
#
# Idempotent: exits 0 at once, without apt, when everything is installed.
# Non-interactive: postfix is preseeded to "No configuration", so the package
# writes no /etc/postfix/main.cf (the bed uses its own config directory).
# No system service is left running: during the install a policy-rc.d that
# answers 101 ("action forbidden") keeps invoke-rc.d from starting postfix or
# dovecot (an existing policy-rc.d is left as it is); if a daemon that was not
# running before runs afterwards anyway, it is stopped through its own pid file.
set -eu

PACKAGES="postfix dovecot-core"
POLICY=/usr/sbin/policy-rc.d
POSTFIX_PID=/var/spool/postfix/pid/master.pid
DOVECOT_PID=/run/dovecot/master.pid

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "relay bed packages already installed: $PACKAGES"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
else
    SUDO=sudo
fi

# Prints the pid in $1 if that process is alive and its command is $2.
live_pid() {
    [ -r "$1" ] || return 0
    pid=$(tr -dc '0-9' <"$1")
    [ -n "$pid" ] || return 0
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = "$2" ]; then
        echo "$pid"
    fi
}

# Stops the daemon of pid file $1 (command $2) unless it was running before ($3).
stop_if_new() {
    pid=$(live_pid "$1" "$2")
    if [ -n "$pid" ] && [ "$pid" != "$3" ]; then
        echo "stopping $2 (pid $pid), started by the package install"
        $SUDO kill -TERM "$pid" || true
    fi
}

postfix_before=$(live_pid "$POSTFIX_PID" master)
dovecot_before=$(live_pid "$DOVECOT_PID" dovecot)

created_policy=no
remove_policy() {
    if [ "$created_policy" = yes ]; then
        $SUDO rm -f "$POLICY"
        created_policy=no
    fi
}
trap remove_policy EXIT
trap 'remove_policy; exit 130' INT TERM

if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\n# relay bed install: start no service\nexit 101\n' \
        | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 0755 "$POLICY"
    created_policy=yes
fi

echo "postfix postfix/main_mailer_type select No configuration" \
    | $SUDO debconf-set-selections
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # $missing is a list of package names
$SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $missing

remove_policy
stop_if_new "$POSTFIX_PID" master "$postfix_before"
stop_if_new "$DOVECOT_PID" dovecot "$dovecot_before"

echo "relay bed packages installed:$missing"
