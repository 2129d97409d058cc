"""Runs a :class:`SendPlan` and returns its diagnosis: the entry point of ``mail``.

The conversation itself is :mod:`smtp_profile.mail.session`; this module bounds
it by the whole-test timeout and turns how it ended into a :class:`TestOutcome`.
Library exceptions never leave: every relay problem becomes data.
"""

from __future__ import annotations

import asyncio
import time

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.failures import StepFailed
from smtp_profile.mail.plan import Credentials, OAuthLogin, SendPlan, TestOutcome
from smtp_profile.mail.reach import Resolver, system_resolver
from smtp_profile.mail.session import Session
from smtp_profile.mail.transcript import Transcript

__all__ = ["Resolver", "failed_before_start", "run_test", "system_resolver"]


def login_secrets(plan: SendPlan) -> list[str]:
    """What the transcript must never show (a token is added when it is obtained)."""
    if isinstance(plan.login, Credentials):
        return [plan.login.password.reveal()]
    if isinstance(plan.login, OAuthLogin):
        return [plan.login.grant.client_secret.reveal()]
    return []


def failed_before_start(
    stage: Stage, failure: Failure, detail: str, *, secrets: list[str] | None = None
) -> TestOutcome:
    """A Test that stops before connecting (e.g. a secret that cannot be read)."""
    transcript = Transcript(secrets=list(secrets or []))
    outcome = TestOutcome(
        success=False, stage=stage, failure=failure, detail=transcript.scrub(detail)
    )
    transcript.note(outcome.summary())
    outcome.transcript = transcript.rendered()
    return outcome


async def run_test(plan: SendPlan, *, resolver: Resolver = system_resolver) -> TestOutcome:
    """Send (or probe) as ``plan`` says; never raises for a relay problem."""
    transcript = Transcript(secrets=login_secrets(plan))
    session = Session(plan, transcript, resolver)
    started = time.monotonic()
    try:
        async with asyncio.timeout(plan.timeouts.total):
            await session.run()
        outcome = TestOutcome(
            success=True, stage=session.stage, detail="sent", stopped_after=session.stopped_after
        )
    except StepFailed as failed:
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
