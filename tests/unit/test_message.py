"""The test message (spec §4): headers, encoding of the name, body contents."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, Parser
from email.utils import parsedate_to_datetime

import pytest

from smtp_profile.errors import InvalidField
from smtp_profile.mail.message import SUBJECT, build_test_message, needs_smtputf8
from smtp_profile.profile import parse_test_request
from tests.unit.factories import send_fields

SENT_AT = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def build(
    name: str = "Certificate Alerts",
    account: str = "noreply@example.com",
    recipient: str = "ops@example.org",
    sent_at: datetime = SENT_AT,
) -> bytes:
    message = build_test_message(
        sender_account=account,
        sender_name=name,
        recipient=recipient,
        sent_at=sent_at,
        message_id_domain=account.rpartition("@")[2],
    )
    return message.as_bytes()


def parse(raw: bytes) -> EmailMessage:
    if raw.isascii():
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
    else:  # an SMTPUTF8 message carries raw UTF-8 headers (RFC 6532)
        parsed = Parser(policy=policy.default).parsestr(raw.decode("utf-8"))
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_block(raw: bytes) -> bytes:
    return raw.split(b"\r\n\r\n", 1)[0]


def raw_header(raw: bytes, name: str) -> bytes:
    """The header's raw value, unfolded."""
    lines = header_block(raw).split(b"\r\n")
    for index, line in enumerate(lines):
        if line.lower().startswith(name.lower().encode() + b":"):
            value = line.split(b":", 1)[1]
            for follow in lines[index + 1 :]:
                if follow[:1] not in (b" ", b"\t"):
                    break
                value += follow
            return value.strip()
    raise AssertionError(f"no {name} header")


# -------------------------------------------------------------------- headers


def test_ascii_from_is_name_and_address() -> None:
    raw = build()
    assert raw_header(raw, "From") == b"Certificate Alerts <noreply@example.com>"
    sender = parse(raw)["From"].addresses
    assert len(sender) == 1
    assert sender[0].display_name == "Certificate Alerts"
    assert sender[0].addr_spec == "noreply@example.com"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Jörg Müller", id="latin"),
        pytest.param("Zertifikatsdienst \u2013 Überwachung", id="en-dash"),
        pytest.param("証明書の通知", id="japanese"),
        pytest.param("Ops 🔐 Team", id="emoji"),
        pytest.param("Müller, Jörg (PKI)", id="latin-with-specials"),
        pytest.param("é" * 200, id="long-folded"),
    ],
)
def test_non_ascii_name_is_rfc2047_encoded_and_decodes_back(name: str) -> None:
    raw = build(name=name)
    assert header_block(raw).isascii()  # nothing raw 8-bit in the headers
    from_value = raw_header(raw, "From")
    assert b"=?utf-8?" in from_value.lower()
    assert from_value.endswith(b"<noreply@example.com>")
    sender = parse(raw)["From"].addresses
    assert len(sender) == 1
    assert "".join(sender[0].display_name.split()) == "".join(name.split())
    assert sender[0].addr_spec == "noreply@example.com"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param('Doe, John "JD" (Ops)', id="comma-quotes-parens"),
        pytest.param("Alerts <admin@evil.example>", id="angle-address-in-name"),
        pytest.param("a@b.example, c@d.example", id="address-list-in-name"),
        pytest.param('"', id="lone-quote"),
        pytest.param("(", id="lone-paren"),
        pytest.param("back\\slash", id="backslash"),
        pytest.param("Team; Bcc: x@evil.example", id="semicolon-colon"),
        pytest.param("Ops: Alerts", id="colon-group-syntax"),
        pytest.param("O'Brien [PKI]", id="apostrophe-brackets"),
    ],
)
def test_specials_in_name_still_give_one_sender_with_the_same_name(name: str) -> None:
    raw = build(name=name)
    parsed = parse(raw)
    sender = parsed["From"].addresses
    assert len(sender) == 1
    assert sender[0].display_name == name
    assert sender[0].addr_spec == "noreply@example.com"
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ops@example.org"]
    assert "Bcc" not in parsed


def test_name_that_looks_like_an_encoded_word_round_trips() -> None:
    name = "=?utf-8?q?CEO?="
    sender = parse(build(name=name))["From"].addresses
    assert sender[0].display_name == name


def test_to_subject_date_and_message_id_are_present() -> None:
    raw = build()
    parsed = parse(raw)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ops@example.org"]
    assert parsed["Subject"] == SUBJECT
    assert "test" in SUBJECT.lower()
    assert parsedate_to_datetime(str(parsed["Date"])) == SENT_AT
    message_id = str(parsed["Message-ID"])
    assert message_id.startswith("<")
    assert message_id.endswith("@example.com>")
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        assert len(parsed.get_all(name) or []) == 1, name


def test_message_ids_are_unique() -> None:
    first = parse(build())["Message-ID"]
    second = parse(build())["Message-ID"]
    assert first != second


def test_date_keeps_the_given_offset() -> None:
    sent = datetime(2024, 12, 31, 23, 59, 0, tzinfo=timezone(timedelta(hours=2)))
    parsed = parse(build(sent_at=sent))
    assert parsedate_to_datetime(str(parsed["Date"])) == sent


def test_lines_end_with_crlf_only() -> None:
    raw = build(name="Jörg Müller")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert b"\r" not in raw.replace(b"\r\n", b"")


# ----------------------------------------------------------------------- body


def test_body_says_what_it_is_and_when_it_was_sent() -> None:
    parsed = parse(build())
    body = parsed.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "test" in text.lower()
    assert "smtp-profile" in text
    assert SENT_AT.isoformat(timespec="seconds") in text


def test_no_password_can_reach_the_message() -> None:
    parameters = inspect.signature(build_test_message).parameters
    assert not any("pass" in name or "secret" in name for name in parameters)


def test_body_contains_nothing_password_like() -> None:
    text = build().decode("ascii").lower()
    for word in ("password", "passwort", "relaypassword", "secret"):
        assert word not in text


# --------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("account", "recipient"),
    [
        pytest.param("noreply@münchen.example", "ops@example.org", id="idn-sender-domain"),
        pytest.param("noreply@example.com", "ops@bücher.example", id="idn-recipient-domain"),
        pytest.param("noreply@[192.0.2.1]", "ops@example.org", id="address-literal"),
        pytest.param("noreply@localhost", "ops@localhost", id="single-label"),
    ],
)
def test_valid_addresses_round_trip(account: str, recipient: str) -> None:
    parse_test_request(send_fields(SenderAccount=account, TestRecipient=recipient))
    parsed = parse(build(name="Jörg", account=account, recipient=recipient))
    assert parsed["From"].addresses[0].addr_spec == account
    assert parsed["From"].addresses[0].display_name == "Jörg"
    assert parsed["To"].addresses[0].addr_spec == recipient


@pytest.mark.parametrize(
    ("account", "recipient"),
    [
        pytest.param("jörg@example.com", "ops@example.org", id="intl-sender"),
        pytest.param("noreply@example.com", "用户@例子.广告", id="intl-recipient"),
    ],
)
def test_internationalized_local_parts_build_a_message(account: str, recipient: str) -> None:
    parse_test_request(send_fields(SenderAccount=account, TestRecipient=recipient))  # valid
    try:
        raw = build(account=account, recipient=recipient)
    except Exception as error:
        raise AssertionError(f"building the message failed: {error!r}") from None
    parsed = parse(raw)
    assert parsed["From"].addresses[0].addr_spec == account
    assert parsed["To"].addresses[0].addr_spec == recipient


def test_trailing_dot_domain_is_either_refused_or_builds() -> None:
    account = "noreply@example.com."
    try:
        parse_test_request(send_fields(SenderAccount=account))
    except InvalidField as error:
        assert error.field == "SenderAccount"
        return  # refusing it is a fine fix too
    try:
        build(account=account)
    except Exception as error:
        raise AssertionError(f"accepted address cannot be sent: {error!r}") from None


@pytest.mark.parametrize(
    ("addresses", "expected"),
    [
        pytest.param(("a@example.com", "b@example.org"), False, id="ascii"),
        pytest.param(("jörg@example.com", "b@example.org"), True, id="intl-local"),
        pytest.param(("a@example.com", "用户@例子.广告"), True, id="intl-recipient"),
    ],
)
def test_needs_smtputf8(addresses: tuple[str, str], expected: bool) -> None:
    assert needs_smtputf8(*addresses) is expected
