#!/bin/sh
# Install Debian's Chromium for the browser tests (tests/browser), driven by Playwright
# for Python through /usr/bin/chromium (never `playwright install`: no browser downloads).
#
# Idempotent: exits 0 at once, without apt, when chromium is installed.
# Non-interactive. Needs root (or passwordless sudo) only when something is missing.
set -eu

PACKAGES="chromium"

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $pkg"
    fi
done

if [ -z "$missing" ] && [ -x /usr/bin/chromium ]; then
    echo "browser test packages already installed: $PACKAGES"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
else
    SUDO="sudo -n"
fi

echo "installing:$missing" >&2
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold $missing

if [ ! -x /usr/bin/chromium ]; then
    echo "chromium was installed but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
