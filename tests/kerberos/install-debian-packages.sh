#!/bin/sh
# Install the Debian packages the integrated-authentication (type 1) tests need:
#   krb5-kdc, krb5-admin-server  a throwaway MIT KDC (krb5kdc, kdb5_util, kadmin.local)
#   krb5-user                    kinit/klist/ktutil (krb5-kdc depends on it anyway)
#   dovecot-gssapi               Dovecot's GSSAPI SASL mechanism, for the Postfix relay
#   postfix                      the relay itself (also installed by tests/relay)
#   libkrb5-dev                  krb5-config and headers, to build the Python `gssapi`
#
# Idempotent: exits 0 at once, without apt, when everything is installed.
# Non-interactive: debconf is preseeded (Postfix "No configuration"; the KDC package
# does not manage /etc/krb5kdc; krb5-config asks nothing).
# No system service is left running: during the install a policy-rc.d that answers
# 101 ("action forbidden") keeps invoke-rc.d from starting krb5-kdc, kadmind, postfix
# or dovecot (an existing policy-rc.d is left as it is); a daemon that was not running
# before and runs afterwards anyway is stopped through its own pid file.
# No system-wide Kerberos configuration: the tests use their own krb5.conf and kdc.conf
# through KRB5_CONFIG and KRB5_KDC_PROFILE. krb5-config's postinst writes a template
# /etc/krb5.conf when there is none; if there was none before this script ran, the
# template is removed again, so the machine is left as it was.
set -eu

PACKAGES="krb5-kdc krb5-admin-server krb5-user dovecot-gssapi postfix libkrb5-dev"
POLICY=/usr/sbin/policy-rc.d
POSTFIX_PID=/var/spool/postfix/pid/master.pid
DOVECOT_PID=/run/dovecot/master.pid
KDC_PID=/run/krb5kdc.pid
KADMIND_PID=/run/kadmind.pid

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ]; then
    echo "kerberos test packages already installed: $PACKAGES"
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
kdc_before=$(live_pid "$KDC_PID" krb5kdc)
kadmind_before=$(live_pid "$KADMIND_PID" kadmind)

if [ -e /etc/krb5.conf ] || [ -L /etc/krb5.conf ]; then
    krb5_conf_before=yes
else
    krb5_conf_before=no
fi

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
    printf '#!/bin/sh\n# kerberos test install: start no service\nexit 101\n' \
        | $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 0755 "$POLICY"
    created_policy=yes
fi

$SUDO debconf-set-selections <<'EOF'
postfix postfix/main_mailer_type select No configuration
krb5-config krb5-config/read_conf boolean true
krb5-config krb5-config/add_servers_realm string
krb5-config krb5-config/add_servers boolean false
krb5-kdc krb5-kdc/debconf boolean false
krb5-admin-server krb5-admin-server/newrealm note
EOF
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086 # $missing is a list of package names
$SUDO env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $missing

remove_policy
stop_if_new "$POSTFIX_PID" master "$postfix_before"
stop_if_new "$DOVECOT_PID" dovecot "$dovecot_before"
stop_if_new "$KDC_PID" krb5kdc "$kdc_before"
stop_if_new "$KADMIND_PID" kadmind "$kadmind_before"

if [ "$krb5_conf_before" = no ] && [ -f /etc/krb5.conf ] && [ ! -L /etc/krb5.conf ]; then
    echo "removing the /etc/krb5.conf that krb5-config wrote (there was none before)"
    $SUDO rm -f /etc/krb5.conf
fi

echo "kerberos test packages installed:$missing"
