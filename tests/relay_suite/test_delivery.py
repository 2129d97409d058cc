"""Real deliveries through Postfix + Dovecot, read back from the bed's Maildir.

Every listener, TLS mode and SASL mechanism the bed has, driven through
``POST /KeyfactorAPI/SMTP/Test`` (and ``PUT`` for the stored-password path).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest

from tests.relay.bed import RunningBed
from tests.relay_suite.support import (
    SENDER,
    SENDER_NAME,
    RelayApi,
    ServerCertificate,
    TlsFront,
    assert_sent,
    assert_tls,
    context,
    recipient,
)

pytestmark = pytest.mark.relay


def delivered(bed: RunningBed, to: str) -> EmailMessage:
    """The one copy delivered to ``to`` (fails after a few seconds otherwise)."""
    (message,) = bed.wait_for_messages(to, count=1, timeout=10.0)
    return message


def raw_header(message: EmailMessage, name: str) -> str:
    """The header as it arrived (folding removed), not as the parser decodes it."""
    values = [value for key, value in message.raw_items() if key.lower() == name.lower()]
    assert len(values) == 1, (name, values)
    # The bytes parser keeps undecodable (UTF-8) header bytes as surrogate escapes.
    value = str(values[0]).encode("utf-8", "surrogateescape").decode("utf-8")
    return re.sub(r"\r?\n[ \t]+", " ", value)


def received(message: EmailMessage) -> str:
    """Postfix's own (topmost) Received header, unfolded."""
    (topmost, *_) = message.get_all("Received") or [""]
    return " ".join(str(topmost).split())


def assert_authenticated_as(message: EmailMessage, login: str) -> None:
    trace = received(message)
    # Postfix writes characters outside its safe set as "?" (CORP\bob -> CORP?bob).
    shown = login.replace("\\", "?")
    assert f"(Authenticated sender: {shown})" in trace, trace
    assert " with ESMTPSA id " in trace, trace
    assert "(using TLSv1." in trace, trace


def assert_mechanism(body: dict[str, Any], login: str, mechanism: str) -> None:
    notes = [line for line in body["Transcript"] if "authenticating as" in line]
    assert len(notes) == 1 and notes[0].endswith(f"authenticating as {login} with {mechanism}"), (
        context(body)
    )
    assert any(f" C: AUTH {mechanism} ***" in line for line in body["Transcript"]), context(body)


# ----------------------------------------------------------------- plain relay


async def test_plain_relay_anonymous_delivers_with_envelope_and_headers(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    to = recipient("plain")
    before = datetime.now(UTC)
    body = assert_sent(await api.test(relay_bed.plain_port, to))
    assert body["Tls"] is None and body["ConnectedAddress"] == "127.0.0.1"
    assert body["TestRecipient"] == to and body["Host"] == "127.0.0.1"
    assert not any(" C: STARTTLS" in line or " C: AUTH" in line for line in body["Transcript"])

    message = delivered(relay_bed, to)
    # Envelope: MAIL FROM is SenderAccount (virtual(8) writes it as Return-Path),
    # RCPT TO is TestRecipient.
    assert raw_header(message, "Return-Path") == f"<{SENDER}>"
    assert raw_header(message, "Delivered-To") == to
    assert raw_header(message, "From") == f"{SENDER_NAME} <{SENDER}>"
    assert raw_header(message, "To") == f"<{to}>"
    assert raw_header(message, "Subject") == "smtp-profile test message"
    sent_at = parsedate_to_datetime(raw_header(message, "Date"))
    assert before - timedelta(seconds=5) <= sent_at <= datetime.now(UTC) + timedelta(seconds=5)
    assert re.fullmatch(r"<[^<>@\s]+@example\.test>", raw_header(message, "Message-ID"))
    trace = received(message)
    assert " with ESMTP id " in trace and "Authenticated sender" not in trace, trace
    assert "using TLS" not in trace, trace
    text = message.get_content()
    assert "test message from the smtp-profile service" in text


async def test_plain_relay_non_ascii_sender_name_is_rfc2047_encoded(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    name = "Zertifikats-Wächter Ærøskøbing \N{EN DASH} 証明書"
    to = recipient("utf8name")
    assert_sent(await api.test(relay_bed.plain_port, to, SenderName=name))

    message = delivered(relay_bed, to)
    raw_from = raw_header(message, "From")
    assert raw_from.isascii(), raw_from
    assert re.match(r"=\?utf-8\?[bq]\?", raw_from, re.IGNORECASE), raw_from
    assert raw_from.endswith(f" <{SENDER}>"), raw_from
    # Decoded the RFC 2047 way (whitespace between adjacent encoded words is dropped).
    # email.policy.default's address parser keeps that whitespace (a CPython quirk), so
    # message["From"].addresses would read "証 明書" for a correctly split "証明書".
    encoded_name = raw_from.removesuffix(f" <{SENDER}>")
    assert str(make_header(decode_header(encoded_name))) == name
    (address,) = message["From"].addresses
    assert address.addr_spec == SENDER


async def test_plain_relay_look_alike_encoded_word_name_is_not_decoded_as_another_name(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    """A display name that merely looks like an encoded word must reach the reader as
    typed, not as the name the "encoded word" spells."""
    name = "=?utf-8?q?Bank?="
    to = recipient("lookalike")
    assert_sent(await api.test(relay_bed.plain_port, to, SenderName=name))
    (address,) = delivered(relay_bed, to)["From"].addresses
    assert (address.display_name, address.addr_spec) == (name, SENDER)


async def test_plain_relay_internationalized_addresses_use_smtputf8(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    sender = "zertifikäte@example.test"
    to = f"jörg-{recipient('utf8')}"
    body = assert_sent(await api.test(relay_bed.plain_port, to, SenderAccount=sender))
    assert any(x.endswith(f" C: MAIL FROM:<{sender}> SMTPUTF8") for x in body["Transcript"])
    message = delivered(relay_bed, to)
    assert raw_header(message, "Return-Path") == f"<{sender}>"
    assert raw_header(message, "To") == f"<{to}>"
    assert raw_header(message, "From") == f"{SENDER_NAME} <{sender}>"


# ------------------------------------------------------- STARTTLS + AUTH PLAIN


@pytest.mark.parametrize(
    "login",
    [
        pytest.param("alice", id="user"),
        pytest.param("CORP\\bob", id="DOMAIN-backslash-user"),
        pytest.param("carol@example.test", id="user-at-domain"),
        pytest.param("dave", id="non-ascii-password"),
    ],
)
async def test_submission_starttls_auth_plain_delivers(
    api: RelayApi, relay_bed: RunningBed, bed_certificate: ServerCertificate, login: str
) -> None:
    to = recipient("submission")
    response = await api.test(
        relay_bed.submission_port,
        to,
        Host="localhost",
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername=login,
        RelayPassword=relay_bed.user(login).password,
    )
    body = assert_sent(response)
    assert_tls(body, bed_certificate)
    assert_mechanism(body, login, "PLAIN")
    lines = body["Transcript"]
    starttls = next(i for i, line in enumerate(lines) if line.endswith(" C: STARTTLS"))
    auth = next(i for i, line in enumerate(lines) if " C: AUTH " in line)
    assert starttls < auth  # the password only ever travelled inside TLS
    assert body["RelayUsername"] == login and "RelayPassword" not in body
    assert_authenticated_as(delivered(relay_bed, to), login)


@pytest.mark.parametrize("login", ["CORP\\bob", "dave"])
async def test_auth_login_mechanism_delivers(
    open_api: Any,
    relay_bed: RunningBed,
    login_front: TlsFront,
    bed_certificate: ServerCertificate,
    login: str,
) -> None:
    """LOGIN against the real Dovecot. The service prefers PLAIN whenever it is offered
    and every bed listener offers PLAIN with LOGIN, so LOGIN is forced by a TLS front
    that re-advertises ``AUTH LOGIN`` only (the AUTH exchange itself is Postfix's)."""
    api: RelayApi = await open_api(
        implicit_tls_ports=frozenset({relay_bed.smtps_port, login_front.port})
    )
    to = recipient("login")
    response = await api.test(
        login_front.port,
        to,
        Host="localhost",
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername=login,
        RelayPassword=relay_bed.user(login).password,
    )
    body = assert_sent(response)
    assert_tls(body, bed_certificate)
    assert_mechanism(body, login, "LOGIN")
    assert login_front.upstream_connections == 1
    assert_authenticated_as(delivered(relay_bed, to), login)


@pytest.mark.parametrize("login", ["alice", "carol@example.test", "dave"])
async def test_cram_port_starttls_auth_cram_md5_delivers(
    api: RelayApi, relay_bed: RunningBed, bed_certificate: ServerCertificate, login: str
) -> None:
    to = recipient("cram")
    response = await api.test(
        relay_bed.cram_port,
        to,
        Host="localhost",
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername=login,
        RelayPassword=relay_bed.user(login).password,
    )
    body = assert_sent(response)
    assert_tls(body, bed_certificate)
    assert_mechanism(body, login, "CRAM-MD5")
    assert_authenticated_as(delivered(relay_bed, to), login)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
async def test_smtps_implicit_tls_auth_delivers(
    api: RelayApi, relay_bed: RunningBed, bed_certificate: ServerCertificate, host: str
) -> None:
    to = recipient("smtps")
    response = await api.test(
        relay_bed.smtps_port,
        to,
        Host=host,
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername="alice",
        RelayPassword=relay_bed.user("alice").password,
    )
    body = assert_sent(response)
    assert_tls(body, bed_certificate)
    assert_mechanism(body, "alice", "PLAIN")
    lines = body["Transcript"]
    assert any("TLS from the first byte" in line for line in lines), context(body)
    assert not any(line.endswith(" C: STARTTLS") for line in lines), context(body)
    # The TLS note comes before the greeting: nothing was read in plain text.
    tls_note = next(i for i, line in enumerate(lines) if " *: TLS TLSv1." in line)
    greeting = next(i for i, line in enumerate(lines) if " S: 220 " in line)
    assert tls_note < greeting
    assert_authenticated_as(delivered(relay_bed, to), "alice")


# ----------------------------------------------------------- stored password


async def test_stored_password_is_used_when_the_test_omits_it(
    api: RelayApi, relay_bed: RunningBed, bed_certificate: ServerCertificate
) -> None:
    profile = {
        "Host": "localhost",
        "UseSSL": True,
        "RelayAuthenticationType": 2,
        "RelayUsername": "CORP\\bob",
    }
    put = await api.put(
        relay_bed.submission_port, **profile, RelayPassword=relay_bed.user("CORP\\bob").password
    )
    assert put.status_code == 200, put.text
    assert put.json()["HasPassword"] is True and "RelayPassword" not in put.json()

    to = recipient("stored")
    body = assert_sent(await api.test(relay_bed.submission_port, to, **profile))
    assert_tls(body, bed_certificate)
    assert_mechanism(body, "CORP\\bob", "PLAIN")
    assert_authenticated_as(delivered(relay_bed, to), "CORP\\bob")

    # Host compares case-insensitively: still the stored destination.
    upper = recipient("stored-upper")
    assert_sent(
        await api.test(relay_bed.submission_port, upper, **{**profile, "Host": "LOCALHOST"})
    )
    assert_authenticated_as(delivered(relay_bed, upper), "CORP\\bob")


async def test_stored_password_never_goes_to_another_host(
    api: RelayApi, relay_bed: RunningBed
) -> None:
    profile = {"UseSSL": True, "RelayAuthenticationType": 2, "RelayUsername": "alice"}
    put = await api.put(
        relay_bed.submission_port,
        Host="localhost",
        **profile,
        RelayPassword=relay_bed.user("alice").password,
    )
    assert put.status_code == 200, put.text
    to = recipient("stored-moved")
    # The same server under another name is another destination: no stored password.
    response = await api.test(relay_bed.submission_port, to, Host="127.0.0.1", **profile)
    assert response.status_code == 400, response.text
    assert response.json()["ErrorCode"] == "0xA0100020"
    assert "RelayPassword" in response.json()["Message"]
    assert relay_bed.messages(to) == []
