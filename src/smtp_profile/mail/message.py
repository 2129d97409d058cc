"""The test message itself. Pure: the clock and the domain are passed in."""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import format_datetime, make_msgid

SUBJECT = "smtp-profile test message"


def needs_smtputf8(*addresses: str) -> bool:
    return not all(address.isascii() for address in addresses)


def build_test_message(
    *,
    sender_account: str,
    sender_name: str,
    recipient: str,
    sent_at: datetime,
    message_id_domain: str,
) -> EmailMessage:
    """From ``SenderName <SenderAccount>`` (RFC 2047 when not ASCII), To, Subject,
    Date and Message-ID; a short body saying what this is and when it was sent."""
    utf8 = needs_smtputf8(sender_account, recipient)
    message = EmailMessage(policy=SMTPUTF8 if utf8 else SMTP)
    message["From"] = Address(display_name=sender_name, addr_spec=sender_account)
    message["To"] = Address(addr_spec=recipient)
    message["Subject"] = SUBJECT
    message["Date"] = format_datetime(sent_at)
    message["Message-ID"] = make_msgid(idstring="smtp-profile", domain=message_id_domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "This is a test message from the smtp-profile service.\n"
        f"It was sent at {sent_at.isoformat(timespec='seconds')} to check the outgoing "
        "mail (SMTP relay) settings.\n"
        "If you can read it, the relay accepted and delivered it: no action is needed.\n"
    )
    return message


def message_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes()
