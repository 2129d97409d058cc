"""Failure classes the Postfix + Dovecot bed cannot produce honestly, against fakes.

* aiosmtpd (``tests/support/smtpd.py``): a server offering no mechanism this service
  speaks, a sender refused at MAIL, a message refused at DATA, a TLS handshake failure.
* raw scripted servers (``tests/support/misbehaving.py``): 421 and a dropped connection
  at every step, plus the refusals and misbehaviours Postfix would need a changed
  configuration for.

No test here needs the bed (they are not marked ``relay``).
"""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme

from smtp_profile.mail.diagnosis import Failure, Stage
from tests.relay_suite.support import (
    RelayApi,
    assert_failed,
    context,
    relay_api,
    static_resolver,
)
from tests.support.misbehaving import (
    Drop,
    RunningRaw,
    Script,
    Stall,
    busy_421,
    connect_hangs,
    ehlo_reply,
    full_backlog,
    garbage,
    greet_then_drop,
    non_loopback_address,
    start_raw,
)
from tests.support.smtpd import RecordingHandler, RunningSmtpd, start_smtpd

TO = "ops@example.test"
LOGIN: dict[str, object] = {
    "RelayAuthenticationType": 2,
    "RelayUsername": "alice",
    "RelayPassword": "alice-Secr3t!",
}
EHLO_AUTH = ehlo_reply("AUTH PLAIN LOGIN", "8BITMIME")
EHLO_STARTTLS = ehlo_reply("STARTTLS", "8BITMIME")
BYE_421 = b"421 4.3.2 Service shutting down, closing transmission channel\r\n"


@dataclass
class Fakes:
    tmp_path: Path
    raws: list[RunningRaw]
    smtpds: list[RunningSmtpd]

    async def raw(self, script: Script, *, host: str = "127.0.0.1") -> RunningRaw:
        server = await start_raw(script, host=host)
        self.raws.append(server)
        return server

    async def smtpd(self, **options: Any) -> RunningSmtpd:
        server = await start_smtpd(**options)
        self.smtpds.append(server)
        return server


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    running = Fakes(tmp_path, [], [])
    yield running
    for raw in running.raws:
        await raw.stop()
    for smtpd in running.smtpds:
        await smtpd.stop()


@pytest.fixture
async def api(tmp_path: Path, ca_file: Path) -> AsyncIterator[RelayApi]:
    async with relay_api(
        tmp_path / "data",
        ca_file=ca_file,
        connect_timeout=1.0,
        command_timeout=1.0,
        test_timeout=5.0,
        test_rate_limit=0,
    ) as opened:
        yield opened


# ---------------------------------------------------------------- 421 + drop


@pytest.mark.parametrize(
    ("script", "overrides", "stage"),
    [
        pytest.param(busy_421(), {}, Stage.GREETING, id="greeting"),
        pytest.param(Script(replies={"EHLO": Drop(BYE_421)}), {}, Stage.EHLO, id="ehlo"),
        pytest.param(
            Script(replies={"EHLO": EHLO_STARTTLS, "STARTTLS": Drop(BYE_421)}),
            {"UseSSL": True},
            Stage.TLS,
            id="starttls",
        ),
        pytest.param(
            Script(replies={"EHLO": EHLO_AUTH, "AUTH": Drop(BYE_421)}),
            LOGIN,
            Stage.AUTH,
            id="auth",
        ),
        pytest.param(Script(replies={"MAIL": Drop(BYE_421)}), {}, Stage.MAIL, id="mail"),
        pytest.param(Script(replies={"RCPT": Drop(BYE_421)}), {}, Stage.RCPT, id="rcpt"),
        pytest.param(Script(replies={"DATA": Drop(BYE_421)}), {}, Stage.DATA, id="data"),
        pytest.param(Script(replies={".": Drop(BYE_421)}), {}, Stage.DATA, id="end-of-data"),
    ],
)
async def test_421_and_connection_closed(
    api: RelayApi, fakes: Fakes, script: Script, overrides: dict[str, object], stage: Stage
) -> None:
    server = await fakes.raw(script)
    response = await api.test(server.port, TO, **overrides)
    body = assert_failed(response, stage, Failure.SERVICE_UNAVAILABLE, 421)
    assert body["SmtpMessage"].startswith("4.3.2 "), context(body)
    assert server.messages == [] or stage is Stage.DATA


# ------------------------------------------------------------------- aiosmtpd


async def test_no_common_mechanism_aiosmtpd(api: RelayApi, fakes: Fakes) -> None:
    """aiosmtpd with PLAIN and LOGIN excluded (and no CRAM-MD5): AUTH with no mechanism."""
    server = await fakes.smtpd(
        users={"alice": "alice-Secr3t!"}, exclude_mechanisms=["PLAIN", "LOGIN"]
    )
    response = await api.test(server.port, TO, **LOGIN)
    body = assert_failed(response, Stage.AUTH, Failure.NO_COMMON_MECHANISM)
    assert not any(" C: AUTH" in line for line in body["Transcript"]), context(body)
    assert server.auth_attempts == []


async def test_no_common_mechanism_exchange_style(api: RelayApi, fakes: Fakes) -> None:
    """What an Exchange receive connector offers with Windows authentication only."""
    server = await fakes.raw(Script(replies={"EHLO": ehlo_reply("AUTH GSSAPI NTLM")}))
    response = await api.test(server.port, TO, **LOGIN)
    body = assert_failed(response, Stage.AUTH, Failure.NO_COMMON_MECHANISM)
    assert "GSSAPI NTLM" in body["Message"]
    assert "AUTH" not in server.verbs()


async def test_sender_refused_after_login(api: RelayApi, fakes: Fakes) -> None:
    handler = RecordingHandler(
        refuse_mail="553 5.7.1 <alerts@example.test>: Sender address rejected: "
        "not owned by user alice"
    )
    server = await fakes.smtpd(users={"alice": "alice-Secr3t!"}, handler=handler)
    response = await api.test(server.port, TO, **LOGIN)
    assert_failed(response, Stage.MAIL, Failure.SENDER_REFUSED, 553)
    assert server.auth_attempts == [("PLAIN", "alice")]


async def test_sender_refused_anonymous(api: RelayApi, fakes: Fakes) -> None:
    handler = RecordingHandler(
        refuse_mail="550 5.1.8 <alerts@example.test>: Sender address rejected: Domain not found"
    )
    server = await fakes.smtpd(handler=handler)
    response = await api.test(server.port, TO)
    assert_failed(response, Stage.MAIL, Failure.SENDER_REFUSED, 550)


async def test_message_refused_at_data(api: RelayApi, fakes: Fakes) -> None:
    handler = RecordingHandler(refuse_data="554 5.7.1 Message rejected: sender policy")
    server = await fakes.smtpd(handler=handler)
    response = await api.test(server.port, TO)
    assert_failed(response, Stage.DATA, Failure.DATA_REFUSED, 554)
    assert handler.messages == []


class _AlertingTlsServer:
    """Implicit TLS on 127.0.0.1 that accepts only a SHA-1 suite over TLS 1.2, so the
    handshake with a default client fails with a real ``handshake_failure`` alert.

    A thread with the blocking ``ssl`` module: asyncio's TLS server resets the
    connection on a failed handshake instead of sending the alert.
    """

    def __init__(self, ca: trustme.CA) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self.context)
        self.context.maximum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_ciphers("ECDHE-ECDSA-AES128-SHA")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            client, _ = self.listener.accept()
            with client:
                client.settimeout(5)
                try:
                    self.context.wrap_socket(client, server_side=True).close()
                except ssl.SSLError as exc:
                    self.errors.append(str(exc.reason))

    def close(self) -> None:
        self.listener.close()
        self.thread.join(timeout=5)


async def test_tls_handshake_failure(tmp_path: Path) -> None:
    """No shared cipher: the relay answers the ClientHello with a handshake_failure alert."""
    ca = trustme.CA()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    server = _AlertingTlsServer(ca)
    try:
        async with relay_api(
            tmp_path / "data",
            ca_file=ca_pem,
            implicit_tls_ports=frozenset({server.port}),
            command_timeout=1.0,
            test_rate_limit=0,
        ) as api:
            response = await api.test(server.port, TO, Host="localhost", UseSSL=True)
    finally:
        server.close()
    assert server.errors == ["NO_SHARED_CIPHER"]
    assert_failed(response, Stage.TLS, Failure.TLS_FAILED)


# ----------------------------------------------------------- scripted replies


RAW_CASES: list[Any] = [
    pytest.param(
        Script(greeting=Drop(b"554 5.7.1 No SMTP service for you\r\n")),
        {},
        (Stage.GREETING, Failure.GREETING_REFUSED, 554),
        id="greeting-refused",
    ),
    pytest.param(
        Script(replies={"EHLO": b"550 5.7.1 Go away\r\n", "HELO": b"550 5.7.1 Go away\r\n"}),
        {},
        (Stage.EHLO, Failure.EHLO_REFUSED, 550),
        id="ehlo-refused",
    ),
    pytest.param(
        Script(replies={"EHLO": EHLO_STARTTLS}),  # STARTTLS: 454 4.7.0 TLS not available
        {"UseSSL": True},
        (Stage.TLS, Failure.STARTTLS_REFUSED, 454),
        id="starttls-refused",
    ),
    pytest.param(
        Script(replies={"EHLO": EHLO_AUTH, "AUTH": b"538 5.7.11 Encryption required\r\n"}),
        LOGIN,
        (Stage.AUTH, Failure.AUTH_NEEDS_ENCRYPTION, 538),
        id="auth-needs-encryption",
    ),
    pytest.param(
        Script(
            replies={
                "EHLO": EHLO_AUTH,
                "AUTH": b"454 4.7.0 Temporary authentication failure\r\n",
            }
        ),
        LOGIN,
        (Stage.AUTH, Failure.AUTH_TEMPORARY, 454),
        id="auth-temporary",
    ),
    pytest.param(
        Script(replies={"MAIL": b"530 5.7.0 Must issue a STARTTLS command first\r\n"}),
        {},
        (Stage.MAIL, Failure.TLS_REQUIRED, 530),
        id="tls-required",
    ),
    pytest.param(
        Script(replies={"MAIL": b"530 5.7.0 Authentication required\r\n"}),
        {},
        (Stage.MAIL, Failure.AUTH_REQUIRED, 530),
        id="auth-required",
    ),
    pytest.param(
        Script(replies={"RCPT": b"550 5.1.1 <ops@example.test>: User unknown\r\n"}),
        {},
        (Stage.RCPT, Failure.RECIPIENT_REFUSED, 550),
        id="recipient-refused",
    ),
    pytest.param(
        greet_then_drop(), {}, (Stage.EHLO, Failure.DROPPED, None), id="connection-dropped"
    ),
    pytest.param(
        Script(replies={"RCPT": Drop()}),
        {},
        (Stage.RCPT, Failure.DROPPED, None),
        id="connection-dropped-at-rcpt",
    ),
    pytest.param(garbage(), {}, (Stage.GREETING, Failure.PROTOCOL_ERROR, None), id="garbage"),
    pytest.param(
        Script(replies={"MAIL": Stall()}), {}, (Stage.MAIL, Failure.TIMEOUT, None), id="timeout"
    ),
]


@pytest.mark.parametrize(("script", "overrides", "expected"), RAW_CASES)
async def test_scripted_failure(
    api: RelayApi,
    fakes: Fakes,
    script: Script,
    overrides: dict[str, object],
    expected: tuple[Stage, Failure, int | None],
) -> None:
    server = await fakes.raw(script)
    response = await api.test(server.port, TO, **overrides)
    assert_failed(response, *expected)
    assert server.messages == []


# ------------------------------------------------------------ network errors


async def test_connect_timeout(api: RelayApi) -> None:
    with full_backlog() as port:
        if not connect_hangs(port):
            pytest.skip("this kernel refuses (rather than drops) connects to a full backlog")
        response = await api.test(port, TO)
    body = assert_failed(response, Stage.CONNECT, Failure.CONNECT_TIMEOUT)
    assert body["DurationMs"] < 3000


async def test_cleartext_password_to_a_remote_host_is_refused(api: RelayApi, fakes: Fakes) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    server = await fakes.raw(Script(replies={"EHLO": EHLO_AUTH}), host=address)
    response = await api.test(server.port, TO, Host=address, **LOGIN)
    assert_failed(response, Stage.AUTH, Failure.CLEARTEXT_AUTH_REFUSED)
    assert "AUTH" not in server.verbs()


def _unreachable_address() -> str | None:
    """An IPv4 address a TCP connect fails on at once with "network unreachable"
    (multicast or broadcast: no unicast route), or None where it does not."""
    for address in ("224.0.0.1", "255.255.255.255"):
        with socket.socket() as probe:
            probe.settimeout(0.5)
            try:
                probe.connect((address, 25))
            except OSError as exc:
                if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
                    return address
    return None


async def test_unreachable(tmp_path: Path, ca_file: Path) -> None:
    address = _unreachable_address()
    if address is None:
        pytest.skip("no address here makes a TCP connect fail with 'network unreachable'")
    resolver = static_resolver({"relay.unreachable.test": [address]})
    async with relay_api(
        tmp_path / "data", resolver=resolver, ca_file=ca_file, connect_timeout=1.0
    ) as api:
        response = await api.test(25, TO, Host="relay.unreachable.test")
    body = assert_failed(response, Stage.CONNECT, Failure.UNREACHABLE)
    assert "unreachable" in body["Message"].lower()
