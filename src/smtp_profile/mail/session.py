"""One Test's conversation with the relay, step by step, each failure named by its step."""

from __future__ import annotations

import socket
import ssl

import aiosmtplib

from smtp_profile.mail.certprobe import fetch_certificate
from smtp_profile.mail.diagnosis import Failure, Stage, classify_reply
from smtp_profile.mail.failures import StepFailed, refused, translate
from smtp_profile.mail.login import log_in
from smtp_profile.mail.plan import QuitAfter, SendPlan, TlsInfo
from smtp_profile.mail.reach import Resolver, connect, resolve
from smtp_profile.mail.recording import RecordingSMTP
from smtp_profile.mail.tls import (
    CERTIFICATE_FAILURES,
    certificate_info,
    classify_tls_error,
    client_context,
    describe_tls_error,
    session_info,
)
from smtp_profile.mail.tlsmode import TlsMode, describe_tls_mode
from smtp_profile.mail.transcript import Transcript
from smtp_profile.rules import connect_address


class Session:
    """The state of one test: which step it is in, and the connection."""

    def __init__(self, plan: SendPlan, transcript: Transcript, resolver: Resolver) -> None:
        self.plan, self.transcript, self.resolver = plan, transcript, resolver
        self.stage = Stage.RESOLVE
        self.smtp: RecordingSMTP | None = None
        self.tls: TlsInfo | None = None
        self.peer: str | None = None
        self.stopped_after: QuitAfter | None = None

    async def run(self) -> None:
        plan = self.plan
        self.transcript.note(
            f"connecting to {plan.host} port {plan.port}: {describe_tls_mode(plan.tls_mode)}"
        )
        addresses = await resolve(plan, self.resolver, self.transcript)
        self.stage = Stage.CONNECT
        sock, self.peer = await connect(plan, addresses, self.transcript)
        try:
            await self._greet(sock)
            if await self._stop_if(QuitAfter.CONNECT):
                return
            await self._ehlo()
            if plan.tls_mode is TlsMode.STARTTLS:
                await self._starttls()
        except StepFailed as failed:
            if failed.failure in CERTIFICATE_FAILURES:
                await self._describe_rejected_certificate()
            raise
        if await self._stop_if(QuitAfter.TLS):
            return
        await self._authenticate()
        if await self._stop_if(QuitAfter.AUTH):
            return
        await self._envelope()
        if await self._stop_if(QuitAfter.RCPT):
            return
        await self._data()
        await self._quit()

    async def _greet(self, sock: socket.socket) -> None:
        plan = self.plan
        implicit = plan.tls_mode is TlsMode.IMPLICIT
        self.stage = Stage.TLS if implicit else Stage.GREETING
        self.smtp = RecordingSMTP(
            self.transcript,
            hostname=connect_address(plan.host),
            sock=sock,
            local_hostname=plan.helo_name,
            timeout=plan.timeouts.command,
            use_tls=implicit,
            start_tls=False,
            tls_context=client_context(plan.tls_policy) if implicit else None,
        )
        try:
            greeting = await self.smtp.connect()
        except aiosmtplib.SMTPConnectResponseError as exc:
            self.transcript.server(exc.code, exc.message)
            raise self._reply_failure(Stage.GREETING, exc.code, exc.message) from None
        except Exception as exc:
            raise self._greeting_failure(exc, implicit) from None
        if implicit:
            self._record_tls()
        self.stage = Stage.GREETING
        self.transcript.server(greeting.code, greeting.message)

    def _greeting_failure(self, exc: Exception, implicit: bool) -> StepFailed:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        if isinstance(cause, ssl.SSLError):
            return self._tls_failure(cause)
        if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError) and "ready" not in str(exc):
            return StepFailed(Stage.TLS, Failure.TLS_TIMEOUT, "the TLS handshake did not complete")
        if isinstance(exc, TimeoutError):
            failure = (
                Failure.NO_GREETING_IMPLICIT_PORT
                if (not implicit and self.plan.port in (465, *self.plan.implicit_tls_ports))
                else Failure.NO_GREETING
            )
            return StepFailed(
                Stage.GREETING, failure, f"no greeting within {self.plan.timeouts.command:g} s"
            )
        if isinstance(exc, ConnectionError | aiosmtplib.SMTPServerDisconnected):
            stage = Stage.TLS if implicit and self.tls is None else Stage.GREETING
            return StepFailed(stage, Failure.DROPPED, "the server closed the connection")
        return translate(exc, Stage.GREETING)

    async def _ehlo(self) -> None:
        self.stage = Stage.EHLO
        smtp = self._client()
        try:
            await smtp.ehlo()
        except aiosmtplib.SMTPHeloError as exc:
            if exc.code == 421 or not smtp.is_connected:
                raise self._reply_failure(Stage.EHLO, exc.code, exc.message) from None
            try:
                await smtp.helo()
            except Exception as helo_exc:
                raise translate(helo_exc, Stage.EHLO) from None
        except Exception as exc:
            raise translate(exc, Stage.EHLO) from None

    async def _starttls(self) -> None:
        self.stage = Stage.TLS
        smtp = self._client()
        if not smtp.supports_extension("starttls"):
            raise StepFailed(
                Stage.TLS,
                Failure.STARTTLS_NOT_OFFERED,
                "UseSSL requires STARTTLS but the server does not offer it",
            )
        self.transcript.client("STARTTLS")
        try:
            response = await smtp.starttls(
                server_hostname=connect_address(self.plan.host),
                tls_context=client_context(self.plan.tls_policy),
            )
        except ssl.SSLError as exc:
            raise self._tls_failure(exc) from None
        except aiosmtplib.SMTPResponseException as exc:
            self.transcript.server(exc.code, exc.message)
            raise self._reply_failure(Stage.TLS, exc.code, exc.message) from None
        except aiosmtplib.SMTPTimeoutError as exc:
            if "upgrading" not in str(exc):  # no answer to STARTTLS itself
                raise translate(exc, Stage.TLS) from None
            # The server said 220 and then never completed the handshake.
            raise StepFailed(
                Stage.TLS,
                Failure.TLS_TIMEOUT,
                "the server accepted STARTTLS but the TLS handshake did not complete",
            ) from None
        except Exception as exc:
            raise translate(exc, Stage.TLS) from None
        self.transcript.server(response.code, response.message)
        self._record_tls()
        await self._ehlo()

    async def _authenticate(self) -> None:
        if self.plan.login is None:
            return
        self.stage = Stage.AUTH
        await log_in(
            self._client(),
            self.plan.login,
            host=connect_address(self.plan.host),
            port=self.plan.port,
            peer=self.peer,
            allow_cleartext=self.plan.allow_cleartext_auth,
            transcript=self.transcript,
            set_stage=self._set_stage,
        )

    def _set_stage(self, stage: Stage) -> None:
        self.stage = stage

    async def _envelope(self) -> None:
        smtp = self._client()
        options = ["SMTPUTF8"] if self.plan.smtputf8 else None
        self.stage = Stage.MAIL
        try:
            await smtp.mail(self.plan.sender, options=options, encoding="utf-8")
            self.stage = Stage.RCPT
            await smtp.rcpt(self.plan.recipient, encoding="utf-8")
        except aiosmtplib.SMTPResponseException as exc:
            raise self._reply_failure(self.stage, exc.code, exc.message) from None
        except Exception as exc:
            raise translate(exc, self.stage) from None

    async def _data(self) -> None:
        self.stage = Stage.DATA
        smtp = self._client()
        self.transcript.client("DATA")
        self.transcript.client(f"(message of {len(self.plan.message)} bytes)")
        try:
            response = await smtp.data(self.plan.message)
        except aiosmtplib.SMTPResponseException as exc:
            self.transcript.server(exc.code, exc.message)
            raise self._reply_failure(Stage.DATA, exc.code, exc.message) from None
        except Exception as exc:
            raise translate(exc, Stage.DATA) from None
        self.transcript.server(response.code, response.message)

    async def _quit(self) -> None:
        self.stage = Stage.QUIT
        try:
            await self._client().quit()
        except Exception as exc:
            self.transcript.note(f"QUIT did not complete cleanly ({exc}); the message was sent")

    async def _stop_if(self, step: QuitAfter) -> bool:
        if self.plan.quit_after is not step:
            return False
        self.stopped_after = step
        self.transcript.note(f"probe: stopping after {step}, nothing is sent")
        await self._quit()
        return True

    def _record_tls(self) -> None:
        smtp = self._client()
        self.tls = session_info(
            smtp.get_transport_info("ssl_object"), verified=self.plan.tls_policy.verify
        )
        verified = "verified" if self.plan.tls_policy.verify else "NOT verified (operator setting)"
        self.transcript.note(
            f"TLS {self.tls.version} {self.tls.cipher}; certificate {verified}: "
            f"subject {self.tls.subject}, issuer {self.tls.issuer}, expires {self.tls.not_after}"
        )

    async def _describe_rejected_certificate(self) -> None:
        """Read the refused certificate over a second, unverified handshake."""
        assert self.peer is not None and self.tls is not None
        der = await fetch_certificate(
            address=self.peer,
            port=self.plan.port,
            server_hostname=connect_address(self.plan.host),
            starttls=self.plan.tls_mode is TlsMode.STARTTLS,
            helo_name=self.plan.helo_name,
            within=self.plan.timeouts.command,
        )
        if der is not None:
            self.tls = certificate_info(der, self.tls)
            self.transcript.note(
                f"the refused certificate: subject {self.tls.subject}, issuer "
                f"{self.tls.issuer}, expires {self.tls.not_after}"
            )

    def _tls_failure(self, exc: ssl.SSLError) -> StepFailed:
        detail = describe_tls_error(exc)
        self.tls = TlsInfo(
            verified=False,
            verify_error=getattr(exc, "verify_message", None) or str(exc.reason or exc),
        )
        return StepFailed(Stage.TLS, classify_tls_error(exc), detail)

    def _reply_failure(self, stage: Stage, code: int, message: str) -> StepFailed:
        failure = classify_reply(stage, code, message)
        if failure is Failure.AUTH_REQUIRED and self.plan.login is not None:
            failure = Failure.SENDER_REFUSED if stage is Stage.MAIL else failure
        if self._refused_for_want_of_login(stage, code, message, failure):
            failure = Failure.AUTH_REQUIRED
        if failure is Failure.RELAY_DENIED and self.plan.login is not None:
            failure = Failure.RELAY_DENIED_FOR_ACCOUNT
        return refused(stage, failure, code, message)

    def _refused_for_want_of_login(
        self, stage: Stage, code: int, message: str, failure: Failure
    ) -> bool:
        """An anonymous client refused at MAIL/RCPT by a server that offers AUTH with a
        policy code (5.7.x, e.g. Postfix's "Access denied"): it wants a login."""
        return (
            self.plan.login is None
            and stage in (Stage.MAIL, Stage.RCPT)
            and failure in (Failure.RECIPIENT_REFUSED, Failure.SENDER_REFUSED)
            and code >= 500
            and "5.7." in message
            and self.smtp is not None
            and (
                self.smtp.supports_extension("auth")
                or (  # AUTH may be offered only after STARTTLS
                    self.smtp.get_transport_info("sslcontext") is None
                    and self.smtp.supports_extension("starttls")
                )
            )
        )

    def _client(self) -> RecordingSMTP:
        assert self.smtp is not None
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()
