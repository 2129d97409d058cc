"""Plain sends end to end: envelope, headers, transcript, no opportunistic TLS."""

from __future__ import annotations

import email
import email.policy
import re
import ssl
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import httpx

from smtp_profile.mail.diagnosis import Stage
from smtp_profile.mail.sender import run_test
from tests.mail.conftest import Servers
from tests.mail.helpers import (
    HELO,
    RECIPIENT,
    SENDER,
    SENDER_NAME,
    TEST_PATH,
    assert_api_sent,
    assert_sent,
    client_lines,
    make_plan,
    no_dns,
    request_body,
    server_lines,
)
from tests.support.misbehaving import Script, ehlo_reply
from tests.support.smtpd import RunningSmtpd


def _parse(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _assert_headers(content: bytes, *, name: str, sender: str, recipient: str) -> EmailMessage:
    message = _parse(content)
    sender_header = message["From"]
    (address,) = sender_header.addresses
    assert address.display_name == name
    assert address.addr_spec == sender
    (to,) = message["To"].addresses
    assert to.addr_spec == recipient
    assert message["Subject"]
    sent = message["Date"].datetime
    assert sent is not None
    assert abs(datetime.now(UTC) - sent) < timedelta(minutes=2)
    domain = sender.rpartition("@")[2]
    # (a long Message-ID may be folded onto its own line: leading FWS is legal)
    assert re.fullmatch(rf"<[^<>@\s]+@{re.escape(domain)}>", message["Message-ID"].strip())
    return message


async def test_plain_send_delivers_with_envelope_and_headers(servers: Servers) -> None:
    smtpd = await servers.smtpd()
    outcome = await run_test(make_plan(smtpd.port), resolver=no_dns)

    assert_sent(outcome)
    assert outcome.stage is Stage.QUIT
    assert outcome.stopped_after is None
    assert outcome.tls is None
    assert outcome.connected_address == "127.0.0.1"
    (delivered,) = smtpd.handler.messages
    assert delivered.mail_from == SENDER
    assert delivered.rcpt_tos == [RECIPIENT]
    assert f"From: {SENDER_NAME} <{SENDER}>".encode() in delivered.content
    message = _assert_headers(
        delivered.content, name=SENDER_NAME, sender=SENDER, recipient=RECIPIENT
    )
    body = message.get_body(("plain",))
    assert body is not None
    assert "test message" in body.get_content()
    sent = client_lines(outcome.transcript)
    assert sent[0] == f"EHLO {HELO}"
    assert f"MAIL FROM:<{SENDER}>" in sent
    assert f"RCPT TO:<{RECIPIENT}>" in sent
    assert "DATA" in sent
    assert sent[-1] == "QUIT"
    assert any(line.startswith("250") for line in server_lines(outcome.transcript))


async def test_non_ascii_sender_name_is_rfc2047_encoded(servers: Servers) -> None:
    smtpd = await servers.smtpd()
    name = "Zertifikats-Überwachung für Ämter"
    outcome = await run_test(make_plan(smtpd.port, sender_name=name), resolver=no_dns)

    assert_sent(outcome)
    (delivered,) = smtpd.handler.messages
    headers = delivered.content.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ")
    raw_from = next(line for line in headers.split(b"\r\n") if line.lower().startswith(b"from:"))
    assert raw_from.isascii()
    assert b"=?utf-8?" in raw_from.lower()
    assert f"<{SENDER}>".encode() in raw_from
    assert "Ü".encode() not in delivered.content
    _assert_headers(delivered.content, name=name, sender=SENDER, recipient=RECIPIENT)


async def test_use_ssl_false_never_upgrades_even_when_starttls_is_offered(
    servers: Servers, server_tls: ssl.SSLContext
) -> None:
    smtpd = await servers.smtpd(starttls_context=server_tls)
    outcome = await run_test(make_plan(smtpd.port), resolver=no_dns)

    assert_sent(outcome)
    assert outcome.tls is None
    assert any("STARTTLS" in line for line in server_lines(outcome.transcript))  # offered
    assert "STARTTLS" not in client_lines(outcome.transcript)  # but not used
    assert len(smtpd.handler.messages) == 1


async def test_ehlo_refused_falls_back_to_helo(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"EHLO": b"502 5.5.2 EHLO not supported\r\n"}))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_sent(outcome)
    assert raw.verbs()[:3] == ["EHLO", "HELO", "MAIL"]
    assert len(raw.messages) == 1


async def test_quit_failure_after_delivery_is_still_success(servers: Servers) -> None:
    raw = await servers.raw(
        Script(replies={"EHLO": ehlo_reply("8BITMIME"), "QUIT": b"garbage\r\n"})
    )
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_sent(outcome)
    assert len(raw.messages) == 1


async def test_api_plain_send(client: httpx.AsyncClient, smtpd: RunningSmtpd) -> None:
    response = await client.post(TEST_PATH, json=request_body(smtpd.port))

    body = assert_api_sent(response)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert body["Host"] == "127.0.0.1"
    assert body["Port"] == smtpd.port
    assert body["SenderAccount"] == SENDER
    assert body["SenderName"] == SENDER_NAME
    assert body["TestRecipient"] == RECIPIENT
    assert body["UseSSL"] is False
    assert body["Tls"] is None
    assert body["StoppedAfter"] is None
    assert body["ConnectedAddress"] == "127.0.0.1"
    sent = client_lines(body["Transcript"])
    assert sent[0].startswith("EHLO ")
    assert f"MAIL FROM:<{SENDER}>" in sent
    assert f"RCPT TO:<{RECIPIENT}>" in sent
    assert "DATA" in sent
    (delivered,) = smtpd.handler.messages
    assert delivered.mail_from == SENDER
    assert delivered.rcpt_tos == [RECIPIENT]
    _assert_headers(delivered.content, name=SENDER_NAME, sender=SENDER, recipient=RECIPIENT)


async def test_api_non_ascii_sender_name(client: httpx.AsyncClient, smtpd: RunningSmtpd) -> None:
    name = "Équipe Certificats"
    response = await client.post(TEST_PATH, json=request_body(smtpd.port, SenderName=name))

    body = assert_api_sent(response)
    assert body["SenderName"] == name
    (delivered,) = smtpd.handler.messages
    assert b"=?utf-8?" in delivered.content.lower()
    _assert_headers(delivered.content, name=name, sender=SENDER, recipient=RECIPIENT)
