"""STARTTLS, implicit TLS and every way a TLS setup goes wrong."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.sender import run_test
from smtp_profile.mail.tlsmode import TlsMode
from tests.mail.conftest import Servers
from tests.mail.helpers import (
    TEST_PATH,
    FakeResolver,
    api_with,
    assert_api_failed,
    assert_api_sent,
    assert_failed,
    assert_sent,
    client_lines,
    make_plan,
    no_dns,
    request_body,
    server_lines,
)
from tests.support.misbehaving import Script, ehlo_reply, never_greet, plain_smtp


async def test_starttls_negotiated_and_delivered(
    servers: Servers, server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(starttls_context=server_tls)
    plan = make_plan(smtpd.port, tls_mode=TlsMode.STARTTLS, ca_file=ca_file)
    outcome = await run_test(plan, resolver=no_dns)

    assert_sent(outcome)
    assert outcome.tls is not None
    assert outcome.tls.version is not None and outcome.tls.version.startswith("TLS")
    assert outcome.tls.cipher
    assert outcome.tls.verified is True
    assert outcome.tls.subject is not None
    assert outcome.tls.issuer and outcome.tls.not_after
    lines = outcome.transcript
    tls_note = next(i for i, line in enumerate(lines) if " *: TLS " in line)
    before = client_lines(lines[:tls_note])
    after = client_lines(lines[tls_note:])
    assert [line for line in before if line.startswith("EHLO")] == ["EHLO client.example.test"]
    assert after[0] == "EHLO client.example.test"  # EHLO again inside TLS
    assert "MAIL FROM:<alerts@example.test>" in after
    assert len(smtpd.handler.messages) == 1


async def test_transcript_shows_starttls_exchange(
    servers: Servers, server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(starttls_context=server_tls)
    plan = make_plan(smtpd.port, tls_mode=TlsMode.STARTTLS, ca_file=ca_file)
    outcome = await run_test(plan, resolver=no_dns)

    assert_sent(outcome)
    assert "STARTTLS" in client_lines(outcome.transcript)
    assert any(line.startswith("220") for line in server_lines(outcome.transcript)[1:])


async def test_transcript_shows_refused_starttls(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"EHLO": ehlo_reply("STARTTLS")}))
    outcome = await run_test(make_plan(raw.port, tls_mode=TlsMode.STARTTLS), resolver=no_dns)

    assert "STARTTLS" in client_lines(outcome.transcript)
    assert "454 4.7.0 TLS not available" in server_lines(outcome.transcript)


async def test_implicit_tls_delivered(
    servers: Servers, server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(implicit_context=server_tls)
    plan = make_plan(
        smtpd.port,
        tls_mode=TlsMode.IMPLICIT,
        ca_file=ca_file,
        implicit_tls_ports=(465, smtpd.port),
    )
    outcome = await run_test(plan, resolver=no_dns)

    assert_sent(outcome)
    assert outcome.tls is not None and outcome.tls.version and outcome.tls.subject
    assert "STARTTLS" not in client_lines(outcome.transcript)
    assert len(smtpd.handler.messages) == 1


async def test_starttls_not_offered_fails_without_downgrade(servers: Servers) -> None:
    smtpd = await servers.smtpd()
    outcome = await run_test(make_plan(smtpd.port, tls_mode=TlsMode.STARTTLS), resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.STARTTLS_NOT_OFFERED)
    assert not any(line.startswith("MAIL") for line in client_lines(outcome.transcript))
    assert smtpd.handler.messages == []


async def test_starttls_refused(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"EHLO": ehlo_reply("STARTTLS")}))
    outcome = await run_test(make_plan(raw.port, tls_mode=TlsMode.STARTTLS), resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.STARTTLS_REFUSED, 454)
    assert "MAIL" not in raw.verbs()


async def test_untrusted_certificate(
    servers: Servers, untrusted_server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(starttls_context=untrusted_server_tls)
    plan = make_plan(smtpd.port, tls_mode=TlsMode.STARTTLS, ca_file=ca_file)
    outcome = await run_test(plan, resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.CERT_UNTRUSTED)
    assert outcome.tls is not None and outcome.tls.verified is False
    assert outcome.tls.verify_error
    # the refused certificate is described (read over a second, unverified handshake)
    assert outcome.tls.subject and outcome.tls.issuer and outcome.tls.not_after
    assert any("the refused certificate" in line for line in outcome.transcript)
    assert smtpd.handler.messages == []


async def test_untrusted_certificate_implicit(
    servers: Servers, untrusted_server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(implicit_context=untrusted_server_tls)
    plan = make_plan(
        smtpd.port, tls_mode=TlsMode.IMPLICIT, ca_file=ca_file, implicit_tls_ports=(smtpd.port,)
    )
    outcome = await run_test(plan, resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.CERT_UNTRUSTED)
    assert outcome.tls is not None and outcome.tls.issuer is not None
    assert smtpd.handler.messages == []


async def test_verification_off_is_an_operator_setting_and_says_so(
    servers: Servers, untrusted_server_tls: ssl.SSLContext
) -> None:
    smtpd = await servers.smtpd(starttls_context=untrusted_server_tls)
    plan = make_plan(smtpd.port, tls_mode=TlsMode.STARTTLS, verify=False)
    outcome = await run_test(plan, resolver=no_dns)

    assert_sent(outcome)
    assert outcome.tls is not None and outcome.tls.verified is False
    assert any("NOT verified" in line for line in outcome.transcript)


async def test_wrong_name_for_ip_address(
    servers: Servers, wrong_name_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(starttls_context=wrong_name_tls)
    plan = make_plan(smtpd.port, tls_mode=TlsMode.STARTTLS, ca_file=ca_file)
    outcome = await run_test(plan, resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.CERT_WRONG_NAME)
    assert smtpd.handler.messages == []


async def test_wrong_name_for_host_name(
    servers: Servers, wrong_name_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(starttls_context=wrong_name_tls)
    resolver = FakeResolver({"relay.example.test": ["127.0.0.1"]})
    plan = make_plan(
        smtpd.port, host="relay.example.test", tls_mode=TlsMode.STARTTLS, ca_file=ca_file
    )
    outcome = await run_test(plan, resolver=resolver)

    assert_failed(outcome, Stage.TLS, Failure.CERT_WRONG_NAME)
    assert resolver.asked == ["relay.example.test"]
    assert outcome.connected_address == "127.0.0.1"


async def test_right_host_name_via_resolver_is_verified(
    servers: Servers, wrong_name_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(starttls_context=wrong_name_tls)
    resolver = FakeResolver({"other.example.test": ["127.0.0.1"]})
    plan = make_plan(
        smtpd.port, host="other.example.test", tls_mode=TlsMode.STARTTLS, ca_file=ca_file
    )
    outcome = await run_test(plan, resolver=resolver)

    assert_sent(outcome)
    assert outcome.tls is not None and outcome.tls.subject is not None


async def test_expired_certificate(
    servers: Servers, expired_tls: ssl.SSLContext, ca_file: Path
) -> None:
    smtpd = await servers.smtpd(starttls_context=expired_tls)
    plan = make_plan(smtpd.port, tls_mode=TlsMode.STARTTLS, ca_file=ca_file)
    outcome = await run_test(plan, resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.CERT_EXPIRED)
    assert outcome.tls is not None and outcome.tls.not_after is not None
    assert datetime.fromisoformat(outcome.tls.not_after) < datetime.now(UTC)
    assert smtpd.handler.messages == []


async def test_implicit_tls_against_plain_smtp(servers: Servers, ca_file: Path) -> None:
    raw = await servers.raw(plain_smtp())
    plan = make_plan(
        raw.port, tls_mode=TlsMode.IMPLICIT, ca_file=ca_file, implicit_tls_ports=(raw.port,)
    )
    outcome = await run_test(plan, resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.TLS_ON_PLAIN_PORT)
    assert raw.messages == []


async def test_implicit_tls_against_aiosmtpd_plain(servers: Servers, ca_file: Path) -> None:
    smtpd = await servers.smtpd()
    plan = make_plan(
        smtpd.port, tls_mode=TlsMode.IMPLICIT, ca_file=ca_file, implicit_tls_ports=(smtpd.port,)
    )
    outcome = await run_test(plan, resolver=no_dns)

    assert_failed(outcome, Stage.TLS, Failure.TLS_ON_PLAIN_PORT)


async def test_implicit_tls_handshake_never_answered(servers: Servers, ca_file: Path) -> None:
    raw = await servers.raw(never_greet())
    plan = make_plan(
        raw.port,
        tls_mode=TlsMode.IMPLICIT,
        ca_file=ca_file,
        command=0.4,
        total=3.0,
        implicit_tls_ports=(raw.port,),
    )
    started = time.monotonic()
    outcome = await run_test(plan, resolver=no_dns)

    assert time.monotonic() - started < 0.4 + 1.0
    assert_failed(outcome, Stage.TLS, Failure.TLS_TIMEOUT)


# --- through the API --------------------------------------------------------------


async def test_api_starttls(
    client: httpx.AsyncClient, servers: Servers, server_tls: ssl.SSLContext
) -> None:
    smtpd = await servers.smtpd(starttls_context=server_tls)
    response = await client.post(TEST_PATH, json=request_body(smtpd.port, UseSSL=True))

    body = assert_api_sent(response)
    assert body["UseSSL"] is True
    assert body["Tls"]["Version"]
    assert body["Tls"]["Subject"]
    assert body["Tls"]["Verified"] is True
    assert [line for line in client_lines(body["Transcript"]) if line.startswith("EHLO")] == [
        "EHLO client.example.test",
        "EHLO client.example.test",
    ]
    assert len(smtpd.handler.messages) == 1


async def test_api_implicit_tls_on_configured_port(
    servers: Servers, server_tls: ssl.SSLContext, ca_file: Path, tmp_path: Path
) -> None:
    smtpd = await servers.smtpd(implicit_context=server_tls)
    async with api_with(
        tmp_path / "d", ca_file, implicit_tls_ports=frozenset({465, smtpd.port})
    ) as client:
        response = await client.post(TEST_PATH, json=request_body(smtpd.port, UseSSL=True))

    body = assert_api_sent(response)
    assert body["Tls"]["Version"] and body["Tls"]["Subject"]
    assert "STARTTLS" not in client_lines(body["Transcript"])
    assert len(smtpd.handler.messages) == 1


async def test_api_starttls_not_offered(client: httpx.AsyncClient, servers: Servers) -> None:
    smtpd = await servers.smtpd()
    response = await client.post(TEST_PATH, json=request_body(smtpd.port, UseSSL=True))

    assert_api_failed(response, Stage.TLS, Failure.STARTTLS_NOT_OFFERED)
    assert smtpd.handler.messages == []


async def test_api_untrusted_certificate(
    client: httpx.AsyncClient, servers: Servers, untrusted_server_tls: ssl.SSLContext
) -> None:
    smtpd = await servers.smtpd(starttls_context=untrusted_server_tls)
    response = await client.post(TEST_PATH, json=request_body(smtpd.port, UseSSL=True))

    body = assert_api_failed(response, Stage.TLS, Failure.CERT_UNTRUSTED)
    assert body["Tls"]["Verified"] is False
    assert body["Tls"]["VerifyError"]


async def test_api_tls_on_plain_port(servers: Servers, ca_file: Path, tmp_path: Path) -> None:
    smtpd = await servers.smtpd()
    async with api_with(
        tmp_path / "d", ca_file, implicit_tls_ports=frozenset({smtpd.port})
    ) as client:
        response = await client.post(TEST_PATH, json=request_body(smtpd.port, UseSSL=True))

    assert_api_failed(response, Stage.TLS, Failure.TLS_ON_PLAIN_PORT)
