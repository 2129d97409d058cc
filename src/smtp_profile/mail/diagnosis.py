"""The hint catalogue: for each failure class, the likely cause and what to change.

Pure. The sender classifies what went wrong into a :class:`Failure` kind; this
module turns it into words. The README's troubleshooting table is generated
from :data:`HINTS`, so the two cannot disagree.
"""

from __future__ import annotations

import re

from smtp_profile.mail.failure_kinds import Failure, Hint, Stage
from smtp_profile.mail.hints_oauth import OAUTH_HINTS, SECRET_HINTS
from smtp_profile.mail.hints_relay import RELAY_HINTS

__all__ = ["HINTS", "Failure", "Hint", "Stage", "classify_reply", "hint_for"]

HINTS: dict[Failure, Hint] = {**RELAY_HINTS, **SECRET_HINTS, **OAUTH_HINTS}


_RELAY_DENIED = re.compile(
    r"relay(ing)? (access )?(is )?(denied|not permitted|prohibited|not allowed)"
    r"|unable to relay|not permitted to relay|relay not allowed"
)


def hint_for(failure: Failure) -> Hint:
    return HINTS[failure]


def classify_reply(stage: Stage, code: int, message: str) -> Failure:
    """A failure kind from the step and the server's reply."""
    text = message.lower()
    if not 400 <= code <= 599:  # -1: unparsable (aiosmtplib); 2xx/3xx: not a refusal
        return Failure.PROTOCOL_ERROR
    if code == 421:
        return Failure.SERVICE_UNAVAILABLE
    if stage is Stage.GREETING:
        return Failure.GREETING_REFUSED
    if stage is Stage.EHLO:
        return Failure.EHLO_REFUSED
    if stage is Stage.TLS:
        return Failure.STARTTLS_REFUSED
    if stage is Stage.AUTH:
        if code in (534, 538) or "encrypt" in text:
            return Failure.AUTH_NEEDS_ENCRYPTION
        if 400 <= code < 500:
            return Failure.AUTH_TEMPORARY
        return Failure.AUTH_FAILED
    if "starttls" in text:
        return Failure.TLS_REQUIRED
    if code == 530 or "authentication required" in text:
        return Failure.AUTH_REQUIRED
    if stage is Stage.MAIL:
        return Failure.SENDER_REFUSED
    if stage is Stage.RCPT:
        if _RELAY_DENIED.search(text):
            return Failure.RELAY_DENIED
        return Failure.RECIPIENT_REFUSED
    if stage is Stage.DATA:
        return Failure.DATA_REFUSED
    return Failure.PROTOCOL_ERROR
