"""Smoke tests of the relay bed itself, with the standard library's smtplib only."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import uuid
from email.message import EmailMessage
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .bed import RunningBed

pytestmark = pytest.mark.relay

TIMEOUT = 10.0


def _message(to: str, subject: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "sender@client.test"
    msg["To"] = to
    msg["Subject"] = subject or f"relay bed smoke {uuid.uuid4()}"
    msg["Message-ID"] = f"<{uuid.uuid4()}@client.test>"
    msg.set_content("Hello from the relay bed smoke test.\n")
    return msg


def _submission(bed: RunningBed) -> smtplib.SMTP:
    """A submission-port client that has done EHLO, STARTTLS (test CA) and EHLO again."""
    client = smtplib.SMTP(bed.host, bed.submission_port, timeout=TIMEOUT)
    client.ehlo()
    client.starttls(context=bed.ssl_context())
    client.ehlo()
    return client


def _auth_mechanisms(client: smtplib.SMTP) -> set[str]:
    return set(client.esmtp_features.get("auth", "").upper().split())


# ------------------------------------------------------------------------ plain


def test_plain_port_relays_to_the_test_domain_without_auth(clean_relay_bed: RunningBed) -> None:
    bed = clean_relay_bed
    sent = _message("someone@example.test")
    with smtplib.SMTP(bed.host, bed.plain_port, timeout=TIMEOUT) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert not client.has_extn("auth")
        assert client.send_message(sent) == {}

    (received,) = bed.wait_for_messages("someone@example.test")
    for header in ("From", "To", "Subject", "Message-ID"):
        assert received[header] == sent[header]
    assert received["Delivered-To"] == "someone@example.test"
    assert "by relay.example.test" in str(received["Received"])
    body = received.get_body()
    assert body is not None
    assert body.get_content() == "Hello from the relay bed smoke test.\n"


def test_plain_port_refuses_relay_to_other_domains(relay_bed: RunningBed) -> None:
    with smtplib.SMTP(relay_bed.host, relay_bed.plain_port, timeout=TIMEOUT) as client:
        client.ehlo()
        client.mail("sender@client.test")
        code, reply = client.rcpt("someone@other.invalid")
    assert code == 554
    assert b"Relay access denied" in reply


def test_messages_are_filtered_by_recipient(clean_relay_bed: RunningBed) -> None:
    bed = clean_relay_bed
    with smtplib.SMTP(bed.host, bed.plain_port, timeout=TIMEOUT) as client:
        client.send_message(_message("one@example.test, two@example.test"))
    bed.wait_for_messages(count=2)
    assert [m["Delivered-To"] for m in bed.messages("TWO@example.test")] == ["two@example.test"]
    bed.clear_messages()
    assert bed.messages() == []


# ------------------------------------------------------------------- submission


def test_submission_offers_auth_only_after_starttls(relay_bed: RunningBed) -> None:
    with smtplib.SMTP(relay_bed.host, relay_bed.submission_port, timeout=TIMEOUT) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")
        code, reply = client.docmd("AUTH", "PLAIN")
        assert (code, reply) == (503, b"5.5.1 Error: authentication not enabled")
        client.starttls(context=relay_bed.ssl_context())
        client.ehlo()
        assert _auth_mechanisms(client) == {"PLAIN", "LOGIN"}


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
@pytest.mark.parametrize("login", ["alice", "CORP\\bob", "carol@example.test"])
def test_submission_login_works(relay_bed: RunningBed, login: str, mechanism: str) -> None:
    user = relay_bed.user(login)
    with _submission(relay_bed) as client:
        client.user, client.password = user.login, user.password
        authobject = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        code, _ = client.auth(mechanism, authobject)
        assert code == 235


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_submission_wrong_password_gets_535(relay_bed: RunningBed, mechanism: str) -> None:
    with _submission(relay_bed) as client:
        client.user, client.password = "alice", "not-the-password"
        authobject = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            client.auth(mechanism, authobject)
        # The session survives a failed AUTH.
        assert client.noop()[0] == 250
    assert err.value.smtp_code == 535
    assert err.value.smtp_error == b"5.7.8 Error: authentication failed: (reason unavailable)"


def test_unknown_user_gets_535_too(relay_bed: RunningBed) -> None:
    with _submission(relay_bed) as client, pytest.raises(smtplib.SMTPAuthenticationError) as err:
        client.login("mallory", "whatever")
    assert err.value.smtp_code == 535
    assert err.value.smtp_error == b"5.7.8 Error: authentication failed: (reason unavailable)"


def test_submission_authenticated_mail_is_delivered(clean_relay_bed: RunningBed) -> None:
    bed = clean_relay_bed
    alice = bed.user("alice")
    with _submission(bed) as client:
        client.login(alice.login, alice.password)
        client.send_message(_message("carol@example.test"))
    (received,) = bed.wait_for_messages("carol@example.test")
    trace = " ".join(str(value) for value in received.get_all("Received", []))
    assert "Authenticated sender: alice" in trace
    assert "ESMTPSA" in trace


@pytest.mark.parametrize("recipient", ["carol@example.test", "someone@other.invalid"])
def test_submission_refuses_unauthenticated_rcpt(relay_bed: RunningBed, recipient: str) -> None:
    with _submission(relay_bed) as client:
        client.mail("sender@client.test")
        code, reply = client.rcpt(recipient)
    assert code == 554
    expected = b"Relay access denied" if recipient.endswith(".invalid") else b"Access denied"
    assert expected in reply


def test_other_domains_are_refused_even_after_auth(relay_bed: RunningBed) -> None:
    alice = relay_bed.user("alice")
    with _submission(relay_bed) as client:
        client.login(alice.login, alice.password)
        client.mail("alice@example.test")
        code, reply = client.rcpt("someone@other.invalid")
    assert code == 554
    assert b"Relay access denied" in reply


def test_non_ascii_password_over_auth_plain(relay_bed: RunningBed) -> None:
    """smtplib encodes AUTH in ASCII, so send the UTF-8 PLAIN response by hand."""
    dave = relay_bed.user("dave")
    token = base64.b64encode(f"\0{dave.login}\0{dave.password}".encode()).decode()
    with _submission(relay_bed) as client:
        assert client.docmd("AUTH", f"PLAIN {token}")[0] == 235


# ------------------------------------------------------------------------ smtps


def test_smtps_implicit_tls_with_the_test_ca(clean_relay_bed: RunningBed) -> None:
    bed = clean_relay_bed
    alice = bed.user("alice")
    with smtplib.SMTP_SSL(
        bed.host, bed.smtps_port, timeout=TIMEOUT, context=bed.ssl_context()
    ) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        assert _auth_mechanisms(client) == {"PLAIN", "LOGIN"}
        client.login(alice.login, alice.password)
        client.send_message(_message("someone@example.test"))
    bed.wait_for_messages("someone@example.test")


def test_smtps_verifies_by_hostname_too(relay_bed: RunningBed) -> None:
    with smtplib.SMTP_SSL(
        relay_bed.tls_hostname,
        relay_bed.smtps_port,
        timeout=TIMEOUT,
        context=relay_bed.ssl_context(),
    ) as client:
        assert client.noop()[0] == 250


def test_smtps_with_a_plain_client_gets_no_greeting(relay_bed: RunningBed) -> None:
    """The server waits for a TLS ClientHello; a plain SMTP client waits for "220"."""
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(relay_bed.host, relay_bed.smtps_port, timeout=1.0)


# ---------------------------------------------------------------------- badcert


def test_badcert_fails_verification_with_the_test_ca(relay_bed: RunningBed) -> None:
    with smtplib.SMTP(relay_bed.host, relay_bed.badcert_port, timeout=TIMEOUT) as client:
        client.ehlo()
        with pytest.raises(ssl.SSLCertVerificationError) as err:
            client.starttls(context=relay_bed.ssl_context())
    assert err.value.verify_message == "unable to get local issuer certificate"


def test_badcert_works_with_its_own_ca(relay_bed: RunningBed) -> None:
    """The listener is otherwise healthy: only the trust anchor is wrong."""
    context = ssl.create_default_context(cafile=str(relay_bed.untrusted_ca_pem))
    alice = relay_bed.user("alice")
    with smtplib.SMTP(relay_bed.host, relay_bed.badcert_port, timeout=TIMEOUT) as client:
        client.starttls(context=context)
        client.login(alice.login, alice.password)


# ------------------------------------------------------------------------- cram


@pytest.mark.parametrize("login", ["alice", "CORP\\bob"])
def test_cram_md5_port(relay_bed: RunningBed, login: str) -> None:
    user = relay_bed.user(login)
    with smtplib.SMTP(relay_bed.host, relay_bed.cram_port, timeout=TIMEOUT) as client:
        client.starttls(context=relay_bed.ssl_context())
        client.ehlo()
        assert _auth_mechanisms(client) == {"CRAM-MD5"}
        code, _ = client.login(user.login, user.password)  # smtplib picks CRAM-MD5
        assert code == 235


# ----------------------------------------------------------------------- silent


def test_silent_port_accepts_tcp_and_never_greets(relay_bed: RunningBed) -> None:
    address = (relay_bed.host, relay_bed.silent_port)
    with socket.create_connection(address, timeout=0.5) as sock, pytest.raises(TimeoutError):
        sock.recv(1)


def test_silent_port_times_out_smtplib(relay_bed: RunningBed) -> None:
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(relay_bed.host, relay_bed.silent_port, timeout=0.5)
