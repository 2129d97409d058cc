#!/usr/bin/env bash
# Install Debian's PostgreSQL server for the throwaway test cluster (tests/pg).
#
# Idempotent and non-interactive. Installs `postgresql` only when no server
# binaries exist under /usr/lib/postgresql/<version>/bin, and makes sure the
# package install neither creates nor starts the system cluster on port 5432:
#   * /etc/postgresql-common/createcluster.conf gets `create_main_cluster = false`
#     (read by the postgresql-NN postinst; the existing file is kept by ucf);
#   * a temporary /usr/sbin/policy-rc.d exiting 101 refuses service starts
#     during the install (left alone if one already exists).
# Needs root (or passwordless sudo) only when something has to be installed.
set -euo pipefail

CREATECLUSTER_CONF=/etc/postgresql-common/createcluster.conf
POLICY_RC_D=/usr/sbin/policy-rc.d

log() { printf 'install-debian-packages: %s\n' "$*" >&2; }

server_present() {
    local bin
    for bin in /usr/lib/postgresql/*/bin; do
        [[ -x "$bin/postgres" && -x "$bin/initdb" ]] && return 0
    done
    return 1
}

as_root() {
    if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

disable_main_cluster() {
    as_root mkdir -p "$(dirname "$CREATECLUSTER_CONF")"
    if as_root grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=[[:space:]]*(false|off|no)' \
        "$CREATECLUSTER_CONF" 2>/dev/null; then
        return 0
    fi
    log "setting create_main_cluster = false in $CREATECLUSTER_CONF"
    printf '\n# tests/pg: no system cluster on package install\ncreate_main_cluster = false\n' \
        | as_root tee -a "$CREATECLUSTER_CONF" >/dev/null
}

POLICY_CREATED=0
block_service_starts() {
    if [[ -e "$POLICY_RC_D" ]]; then
        return 0
    fi
    printf '#!/bin/sh\n# temporary, from tests/pg/install-debian-packages.sh\nexit 101\n' \
        | as_root tee "$POLICY_RC_D" >/dev/null
    as_root chmod 755 "$POLICY_RC_D"
    POLICY_CREATED=1
}

restore_service_starts() {
    if [[ $POLICY_CREATED -eq 1 ]]; then
        as_root rm -f "$POLICY_RC_D"
    fi
}

install_postgresql() {
    as_root env DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 \
        apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 \
        apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        postgresql
}

main() {
    if server_present; then
        log "PostgreSQL server already installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
        return 0
    fi
    disable_main_cluster
    block_service_starts
    trap restore_service_starts EXIT
    install_postgresql
    server_present || { log "postgresql installed but no server binaries found"; exit 1; }
    log "installed: $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
}

main "$@"
