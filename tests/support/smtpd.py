"""A real SMTP server for fast tests: aiosmtpd on 127.0.0.1, port 0, in the test's loop."""

from __future__ import annotations

import asyncio
import hmac
import ssl
from base64 import b64decode
from dataclasses import dataclass, field
from typing import Any, AnyStr, ClassVar

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

SERVER_NAME = "smtp.example.test"


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]


@dataclass
class RecordingHandler:
    messages: list[Delivered] = field(default_factory=list)
    refuse_rcpt: str | None = None  # e.g. "554 5.7.1 Relay access denied"
    refuse_mail: str | None = None
    refuse_data: str | None = None

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self.refuse_mail:
            return self.refuse_mail
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_data:
            return self.refuse_data
        content = envelope.original_content or b""
        self.messages.append(
            Delivered(
                str(envelope.mail_from),
                list(envelope.rcpt_tos),
                content,
                list(envelope.mail_options),
            )
        )
        return "250 2.0.0 queued"


class _TestSMTP(SMTP):
    """aiosmtpd that advertises AUTH only when the test gave it users."""

    advertise_auth = True

    async def push(self, status: AnyStr) -> None:
        text = status if isinstance(status, str) else status.decode()
        if not self.advertise_auth and text.startswith("250-AUTH"):
            return
        await super().push(status)


class _CramSMTP(_TestSMTP):
    """aiosmtpd with CRAM-MD5 added (it ships PLAIN and LOGIN only)."""

    users: ClassVar[dict[str, str]] = {}

    # aiosmtpd names a mechanism after its method, "__" standing for "-".
    async def auth_CRAM__MD5(self, _: Any, args: list[str]) -> AuthResult:
        challenge = b"<1896.697170952@smtp.example.test>"
        answer = await self.challenge_auth(challenge)
        if not isinstance(answer, bytes):
            return AuthResult(success=False, handled=False)
        username, _, digest = answer.decode().rpartition(" ")
        password = self.users.get(username)
        if password is None:
            return AuthResult(success=False, handled=False)
        expected = hmac.new(password.encode(), challenge, "md5").hexdigest()
        return AuthResult(success=hmac.compare_digest(expected, digest), handled=False)


@dataclass
class RunningSmtpd:
    host: str
    port: int
    handler: RecordingHandler
    server: asyncio.base_events.Server
    auth_attempts: list[tuple[str, str]]
    connections: list[int] = field(default_factory=list)

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


async def start_smtpd(
    *,
    starttls_context: ssl.SSLContext | None = None,
    implicit_context: ssl.SSLContext | None = None,
    users: dict[str, str] | None = None,
    auth_require_tls: bool = False,
    auth_required: bool = False,
    require_starttls: bool = False,
    cram_md5: bool = False,
    exclude_mechanisms: list[str] | None = None,
    handler: RecordingHandler | None = None,
) -> RunningSmtpd:
    handler = handler or RecordingHandler()
    attempts: list[tuple[str, str]] = []
    known = dict(users or {})

    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        attempts.append((mechanism, login))
        # handled=False: aiosmtpd then answers 535 itself on failure
        return AuthResult(success=known.get(login) == password, handled=False)

    server_class: type[_TestSMTP] = _CramSMTP if cram_md5 else _TestSMTP
    if cram_md5:
        _CramSMTP.users = known

    connections: list[int] = []

    def factory() -> SMTP:
        connections.append(1)
        server = server_class(
            handler,
            hostname=SERVER_NAME,
            tls_context=starttls_context,
            require_starttls=require_starttls,
            authenticator=authenticator if users is not None else None,
            auth_required=auth_required,
            auth_require_tls=auth_require_tls,
            auth_exclude_mechanism=exclude_mechanisms,
            enable_SMTPUTF8=True,
        )
        server.advertise_auth = users is not None
        return server

    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, host="127.0.0.1", port=0, ssl=implicit_context)
    port = server.sockets[0].getsockname()[1]
    return RunningSmtpd("127.0.0.1", port, handler, server, attempts, connections)


def decode_b64(text: str) -> bytes:
    return b64decode(text)
