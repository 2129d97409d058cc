"""Every failure class the real Postfix + Dovecot bed can produce, through the API.

Each case asserts the step, the failure class, the server's code (when it replied), and
that the hint is the catalogue's text for that class. Cases the bed cannot produce
honestly are in ``test_fake_servers.py``.
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme

from smtp_profile.mail.diagnosis import Failure, Stage
from tests.relay.bed import RunningBed
from tests.relay_suite.support import (
    RelayApi,
    TlsFront,
    assert_failed,
    context,
    front_context,
    recipient,
    static_resolver,
)

pytestmark = pytest.mark.relay

WRONG_PASSWORD = "not-the-Passw0rd"
# For servers that never answer: nothing will arrive, so waiting longer proves nothing.
SHORT = 0.5


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login(bed: RunningBed, user: str = "alice", password: str | None = None) -> dict[str, Any]:
    return {
        "RelayAuthenticationType": 2,
        "RelayUsername": user,
        "RelayPassword": bed.user(user).password if password is None else password,
    }


def sent_nothing_secret(body: dict[str, Any]) -> None:
    """The client never got as far as AUTH (or MAIL): no password, no message left."""
    assert not any(" C: AUTH" in line for line in body["Transcript"]), context(body)
    assert not any(" C: MAIL FROM" in line for line in body["Transcript"]), context(body)


# ------------------------------------------------------------ resolve, connect


async def test_unknown_host(open_api: Any, relay_bed: RunningBed) -> None:
    api: RelayApi = await open_api(resolver=static_resolver({}))
    response = await api.test(relay_bed.plain_port, recipient("x"), Host="relay.nowhere.test")
    body = assert_failed(response, Stage.RESOLVE, Failure.UNKNOWN_HOST)
    assert body["ConnectedAddress"] is None and "relay.nowhere.test" in body["Message"]


async def test_connection_refused(api: RelayApi) -> None:
    port = closed_port()
    body = assert_failed(await api.test(port, recipient("x")), Stage.CONNECT, Failure.REFUSED)
    assert f"port {port}" in body["Message"]


# -------------------------------------------------------------------- greeting


async def test_silent_port_no_greeting(open_api: Any, relay_bed: RunningBed) -> None:
    api: RelayApi = await open_api(command_timeout=SHORT)
    body = assert_failed(
        await api.test(relay_bed.silent_port, recipient("x")), Stage.GREETING, Failure.NO_GREETING
    )
    assert body["ConnectedAddress"] == "127.0.0.1"
    assert SHORT * 1000 - 50 <= body["DurationMs"] < 4000


async def test_plain_client_on_implicit_tls_port(open_api: Any, relay_bed: RunningBed) -> None:
    """UseSSL off against Postfix's wrapper-mode listener: it waits for a ClientHello."""
    api: RelayApi = await open_api(command_timeout=SHORT)
    response = await api.test(relay_bed.smtps_port, recipient("x"), **login(relay_bed))
    body = assert_failed(response, Stage.GREETING, Failure.NO_GREETING_IMPLICIT_PORT)
    sent_nothing_secret(body)


async def test_total_timeout_answers_within_the_limit(open_api: Any, relay_bed: RunningBed) -> None:
    """Spec 7: a Test that hits the total timeout answers within it plus one second."""
    api: RelayApi = await open_api(command_timeout=10.0, test_timeout=SHORT)
    response = await api.test(relay_bed.silent_port, recipient("x"))
    body = response.json()
    assert response.status_code == 400 and body["Stage"] == Stage.GREETING.value, context(body)
    assert SHORT * 1000 - 50 <= body["DurationMs"] < SHORT * 1000 + 1000, context(body)


async def test_total_timeout_before_the_greeting_is_no_greeting(
    open_api: Any, relay_bed: RunningBed
) -> None:
    api: RelayApi = await open_api(command_timeout=10.0, test_timeout=SHORT)
    response = await api.test(relay_bed.silent_port, recipient("x"))
    body = response.json()
    assert "SMTP_PROFILE_COMMAND_TIMEOUT" not in (body["Hint"] or ""), context(body)
    assert_failed(response, Stage.GREETING, Failure.NO_GREETING)


# ------------------------------------------------------------------------- TLS


async def test_tls_client_on_plain_port(open_api: Any, relay_bed: RunningBed) -> None:
    """UseSSL with the plain port configured as implicit TLS: Postfix greets in clear."""
    api: RelayApi = await open_api(
        implicit_tls_ports=frozenset({relay_bed.smtps_port, relay_bed.plain_port})
    )
    response = await api.test(relay_bed.plain_port, recipient("x"), UseSSL=True)
    assert_failed(response, Stage.TLS, Failure.TLS_ON_PLAIN_PORT)


async def test_silent_port_as_implicit_tls_never_completes_the_handshake(
    open_api: Any, relay_bed: RunningBed
) -> None:
    api: RelayApi = await open_api(
        command_timeout=SHORT,
        implicit_tls_ports=frozenset({relay_bed.smtps_port, relay_bed.silent_port}),
    )
    response = await api.test(relay_bed.silent_port, recipient("x"), UseSSL=True)
    assert_failed(response, Stage.TLS, Failure.TLS_TIMEOUT)


async def test_starttls_required_but_not_offered(api: RelayApi, relay_bed: RunningBed) -> None:
    response = await api.test(relay_bed.plain_port, recipient("x"), UseSSL=True)
    body = assert_failed(response, Stage.TLS, Failure.STARTTLS_NOT_OFFERED)
    # No silent downgrade: nothing after EHLO, in particular no MAIL FROM.
    sent_nothing_secret(body)
    assert body["Tls"] is None


async def test_certificate_from_untrusted_ca(api: RelayApi, relay_bed: RunningBed) -> None:
    response = await api.test(
        relay_bed.badcert_port, recipient("x"), Host="localhost", UseSSL=True, **login(relay_bed)
    )
    body = assert_failed(response, Stage.TLS, Failure.CERT_UNTRUSTED)
    assert body["Tls"]["Verified"] is False
    assert "unable to get local issuer certificate" in body["Tls"]["VerifyError"]
    sent_nothing_secret(body)


async def test_certificate_for_another_name(open_api: Any, relay_bed: RunningBed) -> None:
    """The bed's certificate lists localhost and 127.0.0.1 only; reach it by another name."""
    api: RelayApi = await open_api(resolver=static_resolver({"relay.other.test": [relay_bed.host]}))
    response = await api.test(
        relay_bed.submission_port,
        recipient("x"),
        Host="relay.other.test",
        UseSSL=True,
        **login(relay_bed),
    )
    body = assert_failed(response, Stage.TLS, Failure.CERT_WRONG_NAME)
    assert body["ConnectedAddress"] == relay_bed.host
    assert "mismatch" in body["Tls"]["VerifyError"].lower()
    sent_nothing_secret(body)


async def test_expired_certificate(open_api: Any, relay_bed: RunningBed, tmp_path: Path) -> None:
    """An expired certificate (for the right name, from a trusted CA), presented by an
    implicit-TLS front to the bed's smtps port: the bed's own listeners cannot be given
    one without editing the bed."""
    ca = trustme.CA()
    now = datetime.now(UTC)
    leaf = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=now - timedelta(days=30),
        not_after=now - timedelta(days=1),
    )
    chain = tmp_path / "expired-key-chain.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(chain))
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(relay_bed.ca_pem.read_bytes() + ca.cert_pem.bytes())
    front = await TlsFront(relay_bed, front_context(chain)).start()
    try:
        api: RelayApi = await open_api(
            ca_file=bundle, implicit_tls_ports=frozenset({relay_bed.smtps_port, front.port})
        )
        response = await api.test(
            front.port, recipient("x"), Host="localhost", UseSSL=True, **login(relay_bed)
        )
    finally:
        await front.stop()
    body = assert_failed(response, Stage.TLS, Failure.CERT_EXPIRED)
    assert "expired" in body["Tls"]["VerifyError"]
    sent_nothing_secret(body)


# ------------------------------------------------------------------------ AUTH


async def test_auth_only_after_tls(api: RelayApi, relay_bed: RunningBed) -> None:
    response = await api.test(relay_bed.submission_port, recipient("x"), **login(relay_bed))
    body = assert_failed(response, Stage.AUTH, Failure.AUTH_ONLY_AFTER_TLS)
    sent_nothing_secret(body)


async def test_auth_not_offered(api: RelayApi, relay_bed: RunningBed) -> None:
    response = await api.test(relay_bed.plain_port, recipient("x"), **login(relay_bed))
    body = assert_failed(response, Stage.AUTH, Failure.AUTH_NOT_OFFERED)
    sent_nothing_secret(body)


async def test_integrated_authentication_not_configured(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    response = await api.test(
        relay_bed.submission_port,
        recipient("x"),
        Host="localhost",
        UseSSL=True,
        RelayAuthenticationType=1,
    )
    body = assert_failed(response, Stage.AUTH, Failure.INTEGRATED_NOT_CONFIGURED)
    sent_nothing_secret(body)


@pytest.mark.parametrize(
    ("port_name", "user", "password"),
    [
        pytest.param("submission_port", "alice", WRONG_PASSWORD, id="plain-wrong-password"),
        pytest.param("submission_port", "CORP\\bob", WRONG_PASSWORD, id="domain-user-wrong"),
        pytest.param("submission_port", "mallory", "whatever-1", id="plain-unknown-user"),
        pytest.param("smtps_port", "carol@example.test", WRONG_PASSWORD, id="smtps-wrong"),
        pytest.param("cram_port", "alice", WRONG_PASSWORD, id="cram-md5-wrong-password"),
    ],
)
async def test_wrong_credentials(
    api: RelayApi, relay_bed: RunningBed, port_name: str, user: str, password: str
) -> None:
    to = recipient("badauth")
    response = await api.test(
        getattr(relay_bed, port_name),
        to,
        Host="localhost",
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername=user,
        RelayPassword=password,
    )
    body = assert_failed(response, Stage.AUTH, Failure.AUTH_FAILED, 535)
    assert body["SmtpMessage"].startswith("5.7.8 Error: authentication failed")
    assert "DOMAIN\\user" in body["Hint"] and "SenderAccount" in body["Hint"]
    assert body["Tls"]["Verified"] is True
    assert relay_bed.messages(to) == []


async def test_wrong_credentials_with_login_mechanism(
    open_api: Any, relay_bed: RunningBed, login_front: TlsFront
) -> None:
    api: RelayApi = await open_api(
        implicit_tls_ports=frozenset({relay_bed.smtps_port, login_front.port})
    )
    response = await api.test(
        login_front.port,
        recipient("x"),
        Host="localhost",
        UseSSL=True,
        **login(relay_bed, password=WRONG_PASSWORD),
    )
    body = assert_failed(response, Stage.AUTH, Failure.AUTH_FAILED, 535)
    assert any(" C: AUTH LOGIN ***" in line for line in body["Transcript"]), context(body)


# ------------------------------------------------------------------- MAIL/RCPT


async def test_anonymous_after_starttls_on_submission_is_auth_required(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    """Postfix answers 554 5.7.1 "Recipient address rejected: Access denied" at RCPT."""
    to = recipient("anon")
    response = await api.test(relay_bed.submission_port, to, Host="localhost", UseSSL=True)
    body = assert_failed(response, Stage.RCPT, Failure.AUTH_REQUIRED, 554)
    assert "Recipient address rejected: Access denied" in body["SmtpMessage"]
    assert relay_bed.messages(to) == []


async def test_anonymous_on_smtps_is_auth_required(api: RelayApi, relay_bed: RunningBed) -> None:
    to = recipient("anon")
    response = await api.test(relay_bed.smtps_port, to, Host="localhost", UseSSL=True)
    assert_failed(response, Stage.RCPT, Failure.AUTH_REQUIRED, 554)


async def test_anonymous_without_tls_on_submission_is_auth_required(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    to = recipient("anon")
    response = await api.test(relay_bed.submission_port, to)
    assert_failed(response, Stage.RCPT, Failure.AUTH_REQUIRED, 554)


async def test_relay_denied_for_another_domain(api: RelayApi, relay_bed: RunningBed) -> None:
    response = await api.test(relay_bed.plain_port, "x@other.invalid")
    body = assert_failed(response, Stage.RCPT, Failure.RELAY_DENIED, 554)
    assert body["SmtpMessage"] == "5.7.1 <x@other.invalid>: Relay access denied"


async def test_relay_denied_after_login(api: RelayApi, relay_bed: RunningBed) -> None:
    response = await api.test(
        relay_bed.submission_port,
        "x@other.invalid",
        Host="localhost",
        UseSSL=True,
        **login(relay_bed),
    )
    assert_failed(response, Stage.RCPT, Failure.RELAY_DENIED_FOR_ACCOUNT, 554)


async def test_relay_denied_after_login_does_not_advise_logging_in(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    response = await api.test(
        relay_bed.submission_port,
        "x@other.invalid",
        Host="localhost",
        UseSSL=True,
        **login(relay_bed),
    )
    body = response.json()
    assert (body["Stage"], body["Failure"], body["SmtpCode"]) == (
        "rcpt",
        "relay-denied-for-account",
        554,
    )
    assert "Log in" not in body["Hint"] and "RelayAuthenticationType 2" not in body["Hint"]
