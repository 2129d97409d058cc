"""Fixtures for integrated authentication (type 1): an NTLM test server, a KDC, a relay.

* ``ntlm_users`` / ``ntlm_server``: an aiosmtpd server whose AUTH NTLM is checked by
  pyspnego's acceptor against a user file (``NTLM_USER_FILE``, set per test).
* ``kdc`` (session): a throwaway MIT KDC on the loopback with the principals below and
  their keytabs. If it cannot start, the tests that use it FAIL (never skip).
* ``gssapi_relay`` (session): Postfix + Dovecot offering AUTH GSSAPI (marker ``relay``).
* ``krb5_env``: ``KRB5_CONFIG`` (and a private ``KRB5CCNAME``) for this test only.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from smtp_profile.mail.integrated import ServiceIdentity
from tests.kerberos.gssapi_relay import GssapiRelay, RunningGssapiRelay
from tests.kerberos.kdc import REALM, Kdc
from tests.kerberos.ntlm_server import RunningNtlmServer, start_ntlm_server
from tests.kerberos.wiretap import Wiretap

NTLM_DOMAIN = "CORP"
NTLM_USER = "svc-mail"
NTLM_LOGIN = f"{NTLM_DOMAIN}\\{NTLM_USER}"
NTLM_PASSWORD = "Ntlm-S3rvice-Pa55!"

SERVICE_PRINCIPAL = f"smtp-profile@{REALM}"
BLOCKED_PRINCIPAL = f"blocked@{REALM}"  # valid tickets, refused by the relay's Dovecot
STALE_PRINCIPAL = f"stale@{REALM}"  # its keytab was exported before a key change


@pytest.fixture
def ntlm_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The acceptor's accounts (``DOMAIN:USER:PASSWORD``), through ``NTLM_USER_FILE``."""
    path = tmp_path / "ntlm-users"
    path.write_text(f"{NTLM_DOMAIN}:{NTLM_USER}:{NTLM_PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(path))
    return path


@pytest.fixture
def ntlm_password_file(tmp_path: Path) -> Path:
    """The service's own copy of its NTLM password (what SMTP_PROFILE_NTLM_PASSWORD_FILE names)."""
    path = tmp_path / "ntlm-password"
    path.write_text(f"{NTLM_PASSWORD}\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def ntlm_identity(ntlm_password_file: Path) -> ServiceIdentity:
    return ServiceIdentity(ntlm_username=NTLM_LOGIN, ntlm_password_file=ntlm_password_file)


@pytest.fixture
async def ntlm_server(ntlm_users: Path) -> AsyncIterator[RunningNtlmServer]:
    server = await start_ntlm_server()
    yield server
    await server.stop()


@pytest.fixture
async def wiretaps() -> AsyncIterator[list[Wiretap]]:
    """Start taps with ``await tap_to(wiretaps, port)``; all stop after the test."""
    taps: list[Wiretap] = []
    yield taps
    for tap in taps:
        await tap.stop()


async def tap_to(taps: list[Wiretap], port: int, host: str = "127.0.0.1") -> Wiretap:
    tap = await Wiretap(host, port).start()
    taps.append(tap)
    return tap


# --------------------------------------------------------------------- Kerberos


@dataclass(frozen=True)
class Realm:
    """The running KDC and the keytabs the tests use."""

    kdc: Kdc
    directory: Path
    service_keytab: Path  # SERVICE_PRINCIPAL: the service's own identity
    blocked_keytab: Path
    stale_keytab: Path
    relay_keytab: Path  # smtp/localhost: the relay's acceptor keytab

    def keytab_copy(self, name: str) -> Path:
        """A copy of the service keytab at a new path (so with a fresh ticket cache)."""
        path = self.directory / name
        shutil.copyfile(self.service_keytab, path)
        path.chmod(0o600)
        return path

    def identity(self, **overrides: object) -> ServiceIdentity:
        values: dict[str, object] = {
            "kerberos_principal": SERVICE_PRINCIPAL,
            "kerberos_keytab": self.service_keytab,
        }
        values.update(overrides)
        return ServiceIdentity(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Realm]:
    """A KDC for EXAMPLE.TEST on a free loopback port; failing to start fails the tests."""
    directory = tmp_path_factory.mktemp("kdc")
    server = Kdc(directory / "realm")
    server.start()
    try:
        keytabs = directory / "keytabs"
        keytabs.mkdir()
        realm = Realm(
            kdc=server,
            directory=keytabs,
            service_keytab=keytabs / "service.keytab",
            blocked_keytab=keytabs / "blocked.keytab",
            stale_keytab=keytabs / "stale.keytab",
            relay_keytab=keytabs / "relay.keytab",
        )
        server.add_principal(SERVICE_PRINCIPAL, realm.service_keytab)
        server.add_principal(BLOCKED_PRINCIPAL, realm.blocked_keytab)
        server.add_principal(STALE_PRINCIPAL, realm.stale_keytab)
        server.change_key(STALE_PRINCIPAL)
        server.add_principal(f"smtp/localhost@{REALM}", realm.relay_keytab)
        yield realm
    finally:
        server.stop()


@pytest.fixture
def krb5_env(kdc: Realm, monkeypatch: pytest.MonkeyPatch) -> Realm:
    """This test's process sees the test realm's krb5.conf (and no ticket cache of root's)."""
    monkeypatch.setenv("KRB5_CONFIG", str(kdc.kdc.krb5_conf))
    monkeypatch.setenv("KRB5CCNAME", "MEMORY:kerberos-tests-default")
    monkeypatch.delenv("KRB5_CLIENT_KTNAME", raising=False)
    monkeypatch.delenv("KRB5_KTNAME", raising=False)
    return kdc


@pytest.fixture(scope="session")
def gssapi_relay(
    kdc: Realm, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningGssapiRelay]:
    """Postfix + Dovecot offering AUTH GSSAPI as smtp/localhost@EXAMPLE.TEST."""
    relay = GssapiRelay(keytab=kdc.relay_keytab, krb5_conf=kdc.kdc.krb5_conf)
    running = relay.start(tmp_path_factory.mktemp("gssapi-relay"))
    try:
        running.deny(BLOCKED_PRINCIPAL)
        yield running
    finally:
        relay.stop()
