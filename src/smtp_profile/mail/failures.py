"""A failed step, and the translation of library and network errors into one."""

from __future__ import annotations

import ssl

import aiosmtplib

from smtp_profile.mail.diagnosis import Failure, Stage, classify_reply
from smtp_profile.mail.tls import classify_tls_error, describe_tls_error


class StepFailed(Exception):
    """A Test stopped at ``stage``; ``failure`` selects the hint."""

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


def refused(stage: Stage, failure: Failure, code: int, message: str) -> StepFailed:
    if code < 0:  # aiosmtplib's marker for a reply it could not parse
        return StepFailed(stage, failure, "the server's answer is not valid SMTP", None, message)
    if code < 400:
        detail = f"the server answered {code}, which makes no sense at this step"
        return StepFailed(stage, failure, detail, code, message)
    return StepFailed(stage, failure, f"the server refused ({code})", code, message)


def translate(exc: Exception, stage: Stage) -> StepFailed:
    """Library and network exceptions into a step-named failure."""
    if isinstance(exc, StepFailed):
        return exc
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return refused(stage, classify_reply(stage, exc.code, exc.message), exc.code, exc.message)
    if isinstance(exc, TimeoutError):
        return StepFailed(stage, Failure.TIMEOUT, "the server did not answer in time")
    if isinstance(exc, ConnectionError | aiosmtplib.SMTPServerDisconnected):
        return StepFailed(stage, Failure.DROPPED, "the server closed the connection")
    if isinstance(exc, ssl.SSLError):
        return StepFailed(stage, classify_tls_error(exc), describe_tls_error(exc))
    return StepFailed(stage, Failure.PROTOCOL_ERROR, f"{type(exc).__name__}: {exc}")


def connect_failure(address: str, port: int, exc: BaseException) -> StepFailed:
    if isinstance(exc, TimeoutError):
        return StepFailed(
            Stage.CONNECT, Failure.CONNECT_TIMEOUT, f"connecting to {address} port {port} timed out"
        )
    if isinstance(exc, ConnectionRefusedError):
        return StepFailed(
            Stage.CONNECT, Failure.REFUSED, f"connection to {address} port {port} refused"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return StepFailed(
        Stage.CONNECT, Failure.UNREACHABLE, f"cannot connect to {address} port {port}: {reason}"
    )
