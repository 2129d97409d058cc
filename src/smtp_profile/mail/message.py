"""The test message itself. Pure: the clock and the domain are passed in.

The address headers are written here rather than by ``email.headerregistry``:
it refuses internationalised local parts and would emit a display name that
merely looks like an RFC 2047 encoded word without encoding it (so a reader
would see another name). Every value reaching a header has been validated to
hold no control characters; non-ASCII or look-alike names are RFC 2047-encoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

SUBJECT = "smtp-profile test message"
_ATOM_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+$")
_MAX_LINE = 76


@dataclass(frozen=True, slots=True)
class TestMessage:
    """The message as it goes on the wire (CRLF line ends)."""

    raw: bytes

    def as_bytes(self) -> bytes:
        return self.raw


def needs_smtputf8(*addresses: str) -> bool:
    return not all(address.isascii() for address in addresses)


def display_name(name: str) -> str:
    """An RFC 5322 phrase: plain atoms, a quoted string, or RFC 2047 encoded words."""
    if name.isascii() and "=?" not in name and name.isprintable():
        if _ATOM_PHRASE.match(name) and name.strip() == name and "  " not in name:
            return name
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return Header(name, "utf-8", maxlinelen=_MAX_LINE, header_name="From").encode(linesep="\r\n")


def build_test_message(
    *,
    sender_account: str,
    sender_name: str,
    recipient: str,
    sent_at: datetime,
    message_id_domain: str,
) -> TestMessage:
    """From ``SenderName <SenderAccount>`` (RFC 2047 when not ASCII), To, Subject,
    Date and Message-ID; a short body saying what this is and when it was sent."""
    headers = [
        ("From", f"{display_name(sender_name)} <{sender_account}>"),
        ("To", f"<{recipient}>"),
        ("Subject", SUBJECT),
        ("Date", format_datetime(sent_at)),
        (
            "Message-ID",
            make_msgid(idstring="smtp-profile", domain=_ascii_domain(message_id_domain)),
        ),
        ("Auto-Submitted", "auto-generated"),
    ]
    body = EmailMessage(policy=SMTP)
    body.set_content(
        "This is a test message from the smtp-profile service.\n"
        f"It was sent at {sent_at.isoformat(timespec='seconds')} to check the outgoing "
        "mail (SMTP relay) settings.\n"
        "If you can read it, the relay accepted and delivered it: no action is needed.\n"
    )
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8")
    return TestMessage(head + body.as_bytes())


def _ascii_domain(domain: str) -> str:
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return "smtp-profile.invalid"
