"""Probe mode (QuitAfter): stop after a step, send nothing, say QUIT."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from smtp_profile.mail.plan import QuitAfter
from smtp_profile.mail.sender import run_test
from smtp_profile.mail.tlsmode import TlsMode
from tests.mail.conftest import Servers
from tests.mail.helpers import (
    PASSWORD,
    RECIPIENT,
    SENDER,
    TEST_PATH,
    USER,
    assert_api_sent,
    assert_sent,
    client_lines,
    credentials,
    make_plan,
    no_dns,
    request_body,
)
from tests.support.misbehaving import Script, ehlo_reply

# What the client sends in each probe (as the transcript shows it: the STARTTLS command
# itself is missing there, see test_tls.test_transcript_shows_starttls_exchange).
EXPECTED_VERBS: dict[QuitAfter, list[str]] = {
    QuitAfter.CONNECT: ["QUIT"],
    QuitAfter.TLS: ["EHLO", "STARTTLS", "EHLO", "QUIT"],
    QuitAfter.AUTH: ["EHLO", "STARTTLS", "EHLO", "AUTH", "QUIT"],
    QuitAfter.RCPT: ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "QUIT"],
}


@pytest.mark.parametrize("step", list(QuitAfter))
async def test_probe_stops_after_step_and_sends_nothing(
    servers: Servers, server_tls: ssl.SSLContext, ca_file: Path, step: QuitAfter
) -> None:
    smtpd = await servers.smtpd(
        starttls_context=server_tls, users={USER: PASSWORD}, auth_require_tls=True
    )
    plan = make_plan(
        smtpd.port,
        tls_mode=TlsMode.STARTTLS,
        ca_file=ca_file,
        login=credentials(),
        quit_after=step,
    )
    outcome = await run_test(plan, resolver=no_dns)

    assert_sent(outcome)
    assert outcome.stopped_after is step
    assert smtpd.handler.messages == []
    verbs = [line.split(" ")[0].split(":")[0] for line in client_lines(outcome.transcript)]
    assert verbs == EXPECTED_VERBS[step]
    assert "DATA" not in verbs
    assert smtpd.auth_attempts == (
        [("PLAIN", USER)] if step in {QuitAfter.AUTH, QuitAfter.RCPT} else []
    )
    if step is QuitAfter.CONNECT:
        assert outcome.tls is None
    else:
        assert outcome.tls is not None and outcome.tls.version
    assert any(f"stopping after {step}" in line for line in outcome.transcript)
    assert "Probe succeeded" in outcome.summary()


async def test_probe_rcpt_on_raw_server_sends_envelope_only(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"EHLO": ehlo_reply("8BITMIME")}))
    outcome = await run_test(make_plan(raw.port, quit_after=QuitAfter.RCPT), resolver=no_dns)

    assert_sent(outcome)
    assert raw.verbs() == ["EHLO", "MAIL", "RCPT", "QUIT"]
    assert raw.messages == []


async def test_api_probe_rcpt(client: httpx.AsyncClient, servers: Servers) -> None:
    smtpd = await servers.smtpd()
    response = await client.post(f"{TEST_PATH}?QuitAfter=rcpt", json=request_body(smtpd.port))

    body = assert_api_sent(response)
    assert body["StoppedAfter"] == "rcpt"
    assert body["TestRecipient"] == RECIPIENT
    sent = client_lines(body["Transcript"])
    assert f"MAIL FROM:<{SENDER}>" in sent and f"RCPT TO:<{RECIPIENT}>" in sent
    assert "DATA" not in sent
    assert smtpd.handler.messages == []


@pytest.mark.parametrize("query", ["quitafter=CONNECT", "QuitAfter=connect"])
async def test_api_probe_name_and_value_any_case(
    client: httpx.AsyncClient, servers: Servers, query: str
) -> None:
    smtpd = await servers.smtpd()
    response = await client.post(f"{TEST_PATH}?{query}", json=request_body(smtpd.port))

    body = assert_api_sent(response)
    assert body["StoppedAfter"] == "connect"
    assert client_lines(body["Transcript"]) == ["QUIT"]


@pytest.mark.parametrize("value", ["data", "quit", "everything", "rcpt "])
async def test_api_invalid_quit_after_is_400(
    client: httpx.AsyncClient, servers: Servers, value: str
) -> None:
    smtpd = await servers.smtpd()
    response = await client.post(
        TEST_PATH, params={"QuitAfter": value}, json=request_body(smtpd.port)
    )

    assert response.status_code == 400, response.text
    body = response.json()
    assert body["ErrorCode"].startswith("0xA0")
    assert "QuitAfter" in body["Message"]
    assert "Stage" not in body  # rejected before any connection
    assert smtpd.handler.messages == []
