"""The one module that talks SMTP: runs a :class:`SendPlan` and diagnoses it.

It resolves the host itself (the resolver is injectable), connects to the
address it chose, and drives aiosmtplib step by step so that every failure is
known by the step it happened in. Library exceptions never leave this module:
they become a :class:`TestOutcome`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiosmtplib
from aiosmtplib.typing import Default

from smtp_profile.mail.certprobe import fetch_certificate
from smtp_profile.mail.diagnosis import Failure, Stage, classify_reply
from smtp_profile.mail.integrated import IntegratedAuthError, authenticate
from smtp_profile.mail.plan import (
    Credentials,
    Integrated,
    QuitAfter,
    SendPlan,
    TestOutcome,
    TlsInfo,
)
from smtp_profile.mail.tls import (
    CERTIFICATE_FAILURES,
    certificate_info,
    classify_tls_error,
    client_context,
    describe_tls_error,
    session_info,
)
from smtp_profile.mail.tlsmode import TlsMode, describe_tls_mode
from smtp_profile.mail.transcript import REDACTED, Transcript

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Addresses for ``host`` from the system resolver, in its order, without repeats."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Failed(Exception):
    def __init__(
        self,
        stage: Stage,
        failure: Failure,
        detail: str,
        code: int | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.stage, self.failure, self.detail = stage, failure, detail
        self.code, self.message = code, message


class _RecordingSMTP(aiosmtplib.SMTP):
    """aiosmtplib client that writes every command and reply to a transcript."""

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


async def run_test(plan: SendPlan, *, resolver: Resolver = system_resolver) -> TestOutcome:
    """Send (or probe) as ``plan`` says; never raises for a relay problem."""
    transcript = Transcript(
        secrets=[plan.login.password.reveal()] if isinstance(plan.login, Credentials) else []
    )
    session = _Session(plan, transcript, resolver)
    started = time.monotonic()
    try:
        async with asyncio.timeout(plan.timeouts.total):
            await session.run()
        outcome = TestOutcome(
            success=True, stage=session.stage, detail="sent", stopped_after=session.stopped_after
        )
    except _Failed as failed:
        valid_code = failed.code is not None and 200 <= failed.code <= 599
        outcome = TestOutcome(
            success=False,
            stage=failed.stage,
            detail=transcript.scrub(failed.detail),
            failure=failed.failure,
            smtp_code=failed.code if valid_code else None,
            smtp_message=transcript.scrub(failed.message) if failed.message else None,
        )
    except TimeoutError:
        if session.stage is Stage.QUIT:  # the relay already accepted (or the probe ended)
            transcript.note("QUIT timed out; the result stands")
            outcome = TestOutcome(
                success=True, stage=Stage.QUIT, detail="sent", stopped_after=session.stopped_after
            )
        else:
            outcome = TestOutcome(
                success=False,
                stage=session.stage,
                failure=Failure.NO_GREETING
                if session.stage is Stage.GREETING
                else Failure.TEST_TIMEOUT,
                detail=f"the whole test took longer than {plan.timeouts.total:g} s",
            )
    finally:
        session.close()
    outcome.duration_ms = int((time.monotonic() - started) * 1000)
    outcome.transcript = transcript.rendered()
    outcome.tls = session.tls
    outcome.connected_address = session.peer
    if not outcome.success:
        transcript.note(outcome.summary())
        outcome.transcript = transcript.rendered()
    return outcome


class _Session:
    """The state of one test: which step it is in, and the connection."""

    def __init__(self, plan: SendPlan, transcript: Transcript, resolver: Resolver) -> None:
        self.plan, self.transcript, self.resolver = plan, transcript, resolver
        self.stage = Stage.RESOLVE
        self.smtp: _RecordingSMTP | None = None
        self.tls: TlsInfo | None = None
        self.peer: str | None = None
        self.stopped_after: QuitAfter | None = None

    async def run(self) -> None:
        plan = self.plan
        self.transcript.note(
            f"connecting to {plan.host} port {plan.port}: {describe_tls_mode(plan.tls_mode)}"
        )
        addresses = await self._resolve()
        sock = await self._connect(addresses)
        try:
            await self._greet(sock)
            if await self._stop_if(QuitAfter.CONNECT):
                return
            await self._ehlo()
            if plan.tls_mode is TlsMode.STARTTLS:
                await self._starttls()
        except _Failed as failed:
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

    async def _resolve(self) -> list[str]:
        host = _bare(self.plan.host)
        try:
            ipaddress.ip_address(host)
            return [host]
        except ValueError:
            pass
        try:
            addresses = await self.resolver(host, self.plan.port)
        except (socket.gaierror, OSError) as exc:
            raise _Failed(
                Stage.RESOLVE,
                Failure.UNKNOWN_HOST,
                f"the host name {host} does not resolve ({exc})",
            ) from None
        if not addresses:
            raise _Failed(Stage.RESOLVE, Failure.UNKNOWN_HOST, f"{host} has no address")
        self.transcript.note(f"{host} resolves to {', '.join(addresses)}")
        return addresses

    async def _connect(self, addresses: list[str]) -> socket.socket:
        self.stage = Stage.CONNECT
        loop = asyncio.get_running_loop()
        failure: _Failed | None = None
        for address in addresses:
            refusal = self.plan.egress.refusal(address, self.plan.port)
            if refusal is not None:
                failure = _Failed(
                    Stage.CONNECT,
                    Failure.EGRESS_DENIED,
                    f"not connecting: {refusal} (egress policy)",
                )
                self.transcript.note(failure.detail)
                continue
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                async with asyncio.timeout(self.plan.timeouts.connect):
                    await loop.sock_connect(sock, (address, self.plan.port))
            except (OSError, TimeoutError) as exc:
                sock.close()
                failure = _connect_failure(address, self.plan.port, exc)
                self.transcript.note(failure.detail)
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.peer = address
            self.transcript.note(f"connected to {address} port {self.plan.port}")
            return sock
        assert failure is not None
        raise failure

    async def _greet(self, sock: socket.socket) -> None:
        plan = self.plan
        implicit = plan.tls_mode is TlsMode.IMPLICIT
        self.stage = Stage.TLS if implicit else Stage.GREETING
        self.smtp = _RecordingSMTP(
            self.transcript,
            hostname=_bare(plan.host),
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

    def _greeting_failure(self, exc: Exception, implicit: bool) -> _Failed:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        if isinstance(cause, ssl.SSLError):
            return self._tls_failure(cause)
        if isinstance(exc, aiosmtplib.SMTPConnectTimeoutError) and "ready" not in str(exc):
            return _Failed(Stage.TLS, Failure.TLS_TIMEOUT, "the TLS handshake did not complete")
        if isinstance(exc, TimeoutError):
            failure = (
                Failure.NO_GREETING_IMPLICIT_PORT
                if (not implicit and self.plan.port in (465, *self._implicit_ports()))
                else Failure.NO_GREETING
            )
            return _Failed(
                Stage.GREETING, failure, f"no greeting within {self.plan.timeouts.command:g} s"
            )
        if isinstance(exc, ConnectionError | aiosmtplib.SMTPServerDisconnected):
            stage = Stage.TLS if implicit and self.tls is None else Stage.GREETING
            return _Failed(stage, Failure.DROPPED, "the server closed the connection")
        return _translate(exc, Stage.GREETING)

    def _implicit_ports(self) -> tuple[int, ...]:
        return self.plan.implicit_tls_ports

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
                raise _translate(helo_exc, Stage.EHLO) from None
        except Exception as exc:
            raise _translate(exc, Stage.EHLO) from None

    async def _starttls(self) -> None:
        self.stage = Stage.TLS
        smtp = self._client()
        if not smtp.supports_extension("starttls"):
            raise _Failed(
                Stage.TLS,
                Failure.STARTTLS_NOT_OFFERED,
                "UseSSL requires STARTTLS but the server does not offer it",
            )
        self.transcript.client("STARTTLS")
        try:
            response = await smtp.starttls(
                server_hostname=_bare(self.plan.host),
                tls_context=client_context(self.plan.tls_policy),
            )
        except ssl.SSLError as exc:
            raise self._tls_failure(exc) from None
        except aiosmtplib.SMTPResponseException as exc:
            self.transcript.server(exc.code, exc.message)
            raise self._reply_failure(Stage.TLS, exc.code, exc.message) from None
        except Exception as exc:
            raise _translate(exc, Stage.TLS) from None
        self.transcript.server(response.code, response.message)
        self._record_tls()
        await self._ehlo()

    async def _authenticate(self) -> None:
        login = self.plan.login
        if login is None:
            return
        self.stage = Stage.AUTH
        if isinstance(login, Integrated):
            smtp = self._client()
            try:
                await authenticate(
                    smtp,
                    login.identity,
                    host=_bare(self.plan.host),
                    transcript=self.transcript,
                    encrypted=smtp.get_transport_info("sslcontext") is not None,
                    cleartext_allowed=self.plan.allow_cleartext_auth or _is_loopback(self.peer),
                )
            except IntegratedAuthError as exc:
                raise _Failed(Stage.AUTH, exc.failure, exc.detail) from None
            except aiosmtplib.SMTPResponseException as exc:
                raise self._reply_failure(Stage.AUTH, exc.code, exc.message) from None
            except Exception as exc:
                raise _translate(exc, Stage.AUTH) from None
            return
        smtp = self._client()
        encrypted = smtp.get_transport_info("sslcontext") is not None
        if not encrypted and not self.plan.allow_cleartext_auth and not _is_loopback(self.peer):
            raise _Failed(
                Stage.AUTH,
                Failure.CLEARTEXT_AUTH_REFUSED,
                "the password would be sent without encryption; nothing was sent",
            )
        if not smtp.supports_extension("auth"):
            failure = Failure.AUTH_NOT_OFFERED if encrypted else Failure.AUTH_ONLY_AFTER_TLS
            if not encrypted and not smtp.supports_extension("starttls"):
                failure = Failure.AUTH_NOT_OFFERED
            raise _Failed(Stage.AUTH, failure, "the server does not offer AUTH here")
        mechanisms = smtp.supported_auth_methods
        if not mechanisms:
            offered = smtp.esmtp_extensions.get("auth", "").strip() or "none"
            raise _Failed(
                Stage.AUTH,
                Failure.NO_COMMON_MECHANISM,
                f"the server offers {offered}; this service speaks PLAIN, LOGIN and CRAM-MD5",
            )
        mechanism = mechanisms[0]
        self.transcript.note(f"authenticating as {login.username} with {mechanism.upper()}")
        method = getattr(smtp, f"auth_{mechanism.replace('-', '')}")
        smtp.redacting = True
        try:
            await method(login.username, login.password.reveal())
        except aiosmtplib.SMTPResponseException as exc:
            raise self._reply_failure(Stage.AUTH, exc.code, exc.message) from None
        except Exception as exc:
            raise _translate(exc, Stage.AUTH) from None
        finally:
            smtp.redacting = False

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
            raise _translate(exc, self.stage) from None

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
            raise _translate(exc, Stage.DATA) from None
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
            server_hostname=_bare(self.plan.host),
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

    def _tls_failure(self, exc: ssl.SSLError) -> _Failed:
        detail = describe_tls_error(exc)
        self.tls = TlsInfo(
            verified=False,
            verify_error=getattr(exc, "verify_message", None) or str(exc.reason or exc),
        )
        return _Failed(Stage.TLS, classify_tls_error(exc), detail)

    def _reply_failure(self, stage: Stage, code: int, message: str) -> _Failed:
        failure = classify_reply(stage, code, message)
        if failure is Failure.AUTH_REQUIRED and self.plan.login is not None:
            failure = Failure.SENDER_REFUSED if stage is Stage.MAIL else failure
        if self._refused_for_want_of_login(stage, code, message, failure):
            failure = Failure.AUTH_REQUIRED
        if failure is Failure.RELAY_DENIED and self.plan.login is not None:
            failure = Failure.RELAY_DENIED_FOR_ACCOUNT
        return _Failed(stage, failure, f"the server refused ({code})", code, message)

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

    def _client(self) -> _RecordingSMTP:
        assert self.smtp is not None
        return self.smtp

    def close(self) -> None:
        if self.smtp is not None:
            self.smtp.close()


def _translate(exc: Exception, stage: Stage) -> _Failed:
    """Library and network exceptions into a step-named failure."""
    if isinstance(exc, _Failed):
        return exc
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _Failed(
            stage,
            classify_reply(stage, exc.code, exc.message),
            f"the server refused ({exc.code})",
            exc.code,
            exc.message,
        )
    if isinstance(exc, TimeoutError):
        return _Failed(stage, Failure.TIMEOUT, "the server did not answer in time")
    if isinstance(exc, ConnectionError | aiosmtplib.SMTPServerDisconnected):
        return _Failed(stage, Failure.DROPPED, "the server closed the connection")
    if isinstance(exc, ssl.SSLError):
        return _Failed(stage, classify_tls_error(exc), describe_tls_error(exc))
    return _Failed(stage, Failure.PROTOCOL_ERROR, f"{type(exc).__name__}: {exc}")


def _connect_failure(address: str, port: int, exc: BaseException) -> _Failed:
    if isinstance(exc, TimeoutError):
        return _Failed(
            Stage.CONNECT, Failure.CONNECT_TIMEOUT, f"connecting to {address} port {port} timed out"
        )
    if isinstance(exc, ConnectionRefusedError):
        return _Failed(
            Stage.CONNECT, Failure.REFUSED, f"connection to {address} port {port} refused"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return _Failed(
        Stage.CONNECT, Failure.UNREACHABLE, f"cannot connect to {address} port {port}: {reason}"
    )


def _bare(host: str) -> str:
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def _is_loopback(address: str | None) -> bool:
    if address is None:
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
