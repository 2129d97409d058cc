"""Deadlines: a stalled server costs at most the command or total timeout, at the right step."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.plan import QuitAfter
from smtp_profile.mail.plan import TestOutcome as Outcome
from smtp_profile.mail.sender import run_test
from tests.mail.conftest import Servers
from tests.mail.helpers import (
    TEST_PATH,
    api_with,
    assert_api_failed,
    assert_api_sent,
    assert_failed,
    assert_sent,
    make_plan,
    no_dns,
    request_body,
)
from tests.support.misbehaving import Action, RunningRaw, Script, Stall, never_greet

TOTAL = 0.6  # the whole-test budget when the per-reply timeout is long
COMMAND = 0.3  # the per-reply timeout when the total budget is long
LONG = 5.0
MARGIN = 1.0

# Where the server stalls (mid-reply where a reply has several lines), and the step
# the test must blame.
STALLS: list[tuple[str, Action, Stage]] = [
    ("GREETING", Stall(b"220-raw.example.test ESMTP\r\n"), Stage.GREETING),
    ("EHLO", Stall(b"250-raw.example.test\r\n250-8BITMIME\r\n"), Stage.EHLO),
    ("MAIL", Stall(b"250 2.1"), Stage.MAIL),
    ("RCPT", Stall(), Stage.RCPT),
    ("DATA", Stall(), Stage.DATA),
    (".", Stall(b"250-2.0.0 queued\r\n"), Stage.DATA),
]


def _script(verb: str, action: Action) -> Script:
    return Script(greeting=action) if verb == "GREETING" else Script(replies={verb: action})


async def _sweep(
    servers: Servers, stalls: list[tuple[str, Action, Stage]], *, command: float, total: float
) -> list[tuple[Outcome, float, RunningRaw]]:
    """Each stall against its own server, all at once (they are independent); each run
    is timed on its own."""

    async def one(verb: str, action: Action) -> tuple[Outcome, float, RunningRaw]:
        raw = await servers.raw(_script(verb, action))
        started = time.monotonic()
        outcome = await run_test(make_plan(raw.port, command=command, total=total), resolver=no_dns)
        return outcome, time.monotonic() - started, raw

    return await asyncio.gather(*(one(verb, action) for verb, action, _ in stalls))


async def test_total_timeout_ends_the_test_at_the_stalled_step(servers: Servers) -> None:
    results = await _sweep(servers, STALLS, command=LONG, total=TOTAL)

    def expected(stage: Stage) -> Failure:
        # the whole-test limit, named as such; before a greeting that means no greeting
        return Failure.NO_GREETING if stage is Stage.GREETING else Failure.TEST_TIMEOUT

    observed = [(o.stage, o.failure, o.smtp_code) for o, _, _ in results]
    assert observed == [(stage, expected(stage), None) for _, _, stage in STALLS]
    for (verb, _, stage), (outcome, elapsed, raw) in zip(STALLS, results, strict=True):
        assert_failed(outcome, stage, expected(stage))
        assert elapsed < TOTAL + MARGIN, verb
        assert f"longer than {TOTAL:g} s" in outcome.detail
        assert len(raw.messages) == (1 if verb == "." else 0)


async def test_command_timeout_ends_the_test_at_the_stalled_step(servers: Servers) -> None:
    stalls = STALLS[1:]  # a silent greeting is no-greeting: see test_connect
    results = await _sweep(servers, stalls, command=COMMAND, total=LONG)

    observed = [(o.stage, o.failure, o.smtp_code) for o, _, _ in results]
    assert observed == [(stage, Failure.TIMEOUT, None) for _, _, stage in stalls]
    for (verb, _, stage), (outcome, elapsed, _) in zip(stalls, results, strict=True):
        assert_failed(outcome, stage, Failure.TIMEOUT)
        assert elapsed < COMMAND + MARGIN, verb


async def test_stalled_quit_after_delivery_is_success_within_command_timeout(
    servers: Servers,
) -> None:
    raw = await servers.raw(Script(replies={"QUIT": Stall()}))
    started = time.monotonic()
    outcome = await run_test(make_plan(raw.port, command=COMMAND, total=LONG), resolver=no_dns)

    assert_sent(outcome)
    assert time.monotonic() - started < COMMAND + MARGIN
    assert len(raw.messages) == 1
    assert any("QUIT did not complete" in line for line in outcome.transcript)


async def test_stalled_quit_after_delivery_is_success_within_total_timeout(
    servers: Servers,
) -> None:
    raw = await servers.raw(Script(replies={"QUIT": Stall()}))
    started = time.monotonic()
    outcome = await run_test(make_plan(raw.port, command=LONG, total=TOTAL), resolver=no_dns)

    assert time.monotonic() - started < TOTAL + MARGIN
    assert len(raw.messages) == 1  # delivered ...
    assert_sent(outcome)  # ... so the test succeeded


async def test_stalled_quit_after_probe_is_success(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"QUIT": Stall()}))
    plan = make_plan(raw.port, command=LONG, total=TOTAL, quit_after=QuitAfter.RCPT)
    outcome = await run_test(plan, resolver=no_dns)

    assert_sent(outcome)
    assert outcome.stopped_after is QuitAfter.RCPT


async def test_slow_resolver_is_bounded_by_total_timeout() -> None:
    async def stuck(host: str, port: int) -> list[str]:
        await asyncio.sleep(3600)
        return []

    started = time.monotonic()
    outcome = await run_test(make_plan(25, host="slow.example.test", total=TOTAL), resolver=stuck)

    assert_failed(outcome, Stage.RESOLVE, Failure.TEST_TIMEOUT)
    assert time.monotonic() - started < TOTAL + MARGIN


# --- through the API --------------------------------------------------------------


async def test_api_total_timeout_answers_in_time(
    servers: Servers, ca_file: Path, tmp_path: Path
) -> None:
    raw = await servers.raw(Script(replies={"EHLO": Stall(b"250-raw.example.test\r\n")}))
    async with api_with(
        tmp_path / "d", ca_file, command_timeout=LONG, test_timeout=TOTAL
    ) as client:
        started = time.monotonic()
        response = await client.post(TEST_PATH, json=request_body(raw.port))
        elapsed = time.monotonic() - started

    body = assert_api_failed(response, Stage.EHLO, Failure.TEST_TIMEOUT)
    assert elapsed < TOTAL + MARGIN
    assert body["DurationMs"] <= (TOTAL + MARGIN) * 1000


async def test_api_no_greeting_within_command_timeout(
    servers: Servers, ca_file: Path, tmp_path: Path
) -> None:
    raw = await servers.raw(never_greet())
    async with api_with(
        tmp_path / "d", ca_file, command_timeout=COMMAND, test_timeout=LONG
    ) as client:
        started = time.monotonic()
        response = await client.post(TEST_PATH, json=request_body(raw.port))
        elapsed = time.monotonic() - started

    assert_api_failed(response, Stage.GREETING, Failure.NO_GREETING)
    assert elapsed < COMMAND + MARGIN


async def test_api_a_hanging_test_ties_up_no_other_request(
    servers: Servers, ca_file: Path, tmp_path: Path
) -> None:
    silent = await servers.raw(never_greet())
    smtpd = await servers.smtpd()
    async with api_with(tmp_path / "d", ca_file, command_timeout=1.0, test_timeout=LONG) as client:
        hanging = asyncio.create_task(client.post(TEST_PATH, json=request_body(silent.port)))
        await asyncio.sleep(0)  # let the hanging Test start first
        read = await client.get("/KeyfactorAPI/SMTP")
        other = await client.post(TEST_PATH, json=request_body(smtpd.port))
        assert not hanging.done()  # both answered while the first Test still waits
        response = await hanging

    assert read.status_code == 200
    assert_api_sent(other)
    assert_api_failed(response, Stage.GREETING, Failure.NO_GREETING)
