"""An aiosmtplib client that writes every command and reply to a transcript."""

from __future__ import annotations

from typing import Any

import aiosmtplib
from aiosmtplib.typing import Default

from smtp_profile.mail.transcript import REDACTED, Transcript


class RecordingSMTP(aiosmtplib.SMTP):
    """While ``redacting`` (during AUTH), command arguments are recorded as ``***``."""

    def __init__(self, transcript: Transcript, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.transcript = transcript
        self.redacting = False

    async def execute_command(
        self,
        *args: bytes,
        timeout: float | Default | None = Default.token,  # noqa: ASYNC109 - library signature
    ) -> aiosmtplib.SMTPResponse:
        if self.redacting:
            shown = " ".join(arg.decode("ascii", "replace") for arg in args[:2])
            shown = f"{shown} {REDACTED}" if args[:1] == (b"AUTH",) else REDACTED
        else:
            shown = b" ".join(args).decode("utf-8", "replace")
        self.transcript.client(shown)
        response = await super().execute_command(*args, timeout=timeout)
        self.transcript.server(response.code, response.message)
        return response
