"""An aiosmtpd server whose AUTH NTLM is checked by a real NTLM acceptor (pyspnego).

The acceptor reads the accounts from the file named by ``NTLM_USER_FILE`` (lines
``DOMAIN:USER:PASSWORD``), as pyspnego and gss-ntlmssp do; the fixture sets it. Each
AUTH gets its own acceptor context: NEGOTIATE in, CHALLENGE out, AUTHENTICATE in, and
the context either completes (235) or raises (535).
"""

from __future__ import annotations

import asyncio
from base64 import b64decode
from dataclasses import dataclass, field
from typing import Any

import spnego
import spnego.exceptions
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from tests.support.smtpd import SERVER_NAME, RecordingHandler

AUTH_FAILED = "535 5.7.8 Authentication credentials invalid"


@dataclass
class NtlmLog:
    """What the acceptor saw: who logged in, who failed, and why."""

    accepted: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    auth_commands: int = 0


class NtlmSMTP(SMTP):
    """aiosmtpd with ``AUTH NTLM`` (aiosmtpd names the mechanism after ``auth_NTLM``).

    ``first_reply`` is the text of the 334 that answers a bare ``AUTH NTLM`` (Exchange
    says "NTLM supported"); ``garbage_challenge`` sends a challenge that is not base64.
    """

    log: NtlmLog
    first_reply: bytes = b""
    garbage_challenge: bool = False

    async def auth_NTLM(self, _: Any, args: list[str]) -> AuthResult:
        self.log.auth_commands += 1
        context = spnego.server(
            hostname=SERVER_NAME,
            service="smtp",
            protocol="ntlm",
            options=spnego.NegotiateOptions.use_ntlm,
        )
        if len(args) > 1:  # AUTH NTLM <initial response>
            negotiate: bytes | object = b64decode(args[1], validate=True)
        else:
            negotiate = await self.challenge_auth(self.first_reply, encode_to_b64=False)
        if negotiate is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(negotiate, bytes)
        challenge = context.step(negotiate)
        assert challenge is not None
        if self.garbage_challenge:
            challenge = b"not base64!"
        answer = await self.challenge_auth(challenge, encode_to_b64=not self.garbage_challenge)
        if answer is MISSING:
            self.log.refused.append("aborted by the client")
            return AuthResult(success=False, handled=True)
        assert isinstance(answer, bytes)
        try:
            context.step(answer)
        except spnego.exceptions.SpnegoError as exc:
            self.log.refused.append(str(exc))
            return AuthResult(success=False, handled=False, message=AUTH_FAILED)
        assert context.complete
        self.log.accepted.append(str(context.client_principal))
        return AuthResult(success=True, auth_data=context.client_principal)


def _never(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    """The authenticator for the other mechanisms, which are all excluded anyway."""
    return AuthResult(success=False, handled=False)


@dataclass
class RunningNtlmServer:
    host: str
    port: int
    handler: RecordingHandler
    log: NtlmLog
    server: asyncio.base_events.Server

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_ntlm_server(
    *, starttls_context: Any = None, first_reply: bytes = b"", garbage_challenge: bool = False
) -> RunningNtlmServer:
    """On 127.0.0.1, a free port, in the running loop; AUTH offers NTLM only."""
    handler, log = RecordingHandler(), NtlmLog()

    def factory() -> SMTP:
        smtp = NtlmSMTP(
            handler,
            hostname=SERVER_NAME,
            tls_context=starttls_context,
            authenticator=_never,
            auth_require_tls=False,
            auth_exclude_mechanism=["PLAIN", "LOGIN"],
        )
        smtp.log, smtp.first_reply, smtp.garbage_challenge = log, first_reply, garbage_challenge
        return smtp

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=0)
    port = int(server.sockets[0].getsockname()[1])
    return RunningNtlmServer("127.0.0.1", port, handler, log, server)
