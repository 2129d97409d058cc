"""Resolve, connect and greeting: unknown hosts, closed ports, silent and odd servers."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.sender import run_test
from tests.mail.conftest import Servers
from tests.mail.helpers import (
    TEST_PATH,
    FakeResolver,
    api_with,
    assert_api_failed,
    assert_failed,
    assert_sent,
    client_lines,
    make_plan,
    no_dns,
    request_body,
)
from tests.support.misbehaving import (
    Drop,
    Script,
    busy_421,
    connect_hangs,
    full_backlog,
    garbage,
    greet_then_drop,
    never_greet,
)

COMMAND = 0.5  # short per-reply timeout for silent servers
MARGIN = 1.0  # the deadline assertions: at most the timeout plus this


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_unknown_host() -> None:
    resolver = FakeResolver()
    outcome = await run_test(make_plan(25, host="no-such-relay.example.test"), resolver=resolver)

    assert_failed(outcome, Stage.RESOLVE, Failure.UNKNOWN_HOST)
    assert resolver.asked == ["no-such-relay.example.test"]
    assert outcome.connected_address is None


async def test_host_without_addresses() -> None:
    resolver = FakeResolver({"empty.example.test": []})
    outcome = await run_test(make_plan(25, host="empty.example.test"), resolver=resolver)

    assert_failed(outcome, Stage.RESOLVE, Failure.UNKNOWN_HOST)


async def test_ip_literal_is_not_resolved(servers: Servers) -> None:
    smtpd = await servers.smtpd()
    resolver = FakeResolver()
    outcome = await run_test(make_plan(smtpd.port), resolver=resolver)

    assert_sent(outcome)
    assert resolver.asked == []


async def test_next_address_is_tried_after_a_refusal(servers: Servers) -> None:
    smtpd = await servers.smtpd()  # listens on 127.0.0.1 only; 127.0.0.2 refuses
    resolver = FakeResolver({"relay.example.test": ["127.0.0.2", "127.0.0.1"]})
    outcome = await run_test(make_plan(smtpd.port, host="relay.example.test"), resolver=resolver)

    assert_sent(outcome)
    assert outcome.connected_address == "127.0.0.1"
    assert any("127.0.0.2" in line and "refused" in line for line in outcome.transcript)
    assert len(smtpd.handler.messages) == 1


async def test_connection_refused() -> None:
    outcome = await run_test(make_plan(closed_port()), resolver=no_dns)

    assert_failed(outcome, Stage.CONNECT, Failure.REFUSED)
    assert outcome.connected_address is None


async def test_connect_timeout() -> None:
    with full_backlog() as port:
        if not connect_hangs(port):
            pytest.skip("this kernel answers connects to a full listen queue")
        started = time.monotonic()
        outcome = await run_test(make_plan(port, connect=0.3, total=3.0), resolver=no_dns)
        elapsed = time.monotonic() - started

    assert_failed(outcome, Stage.CONNECT, Failure.CONNECT_TIMEOUT)
    assert elapsed < 0.3 + MARGIN


async def test_no_greeting_within_command_timeout(servers: Servers) -> None:
    raw = await servers.raw(never_greet())
    started = time.monotonic()
    outcome = await run_test(make_plan(raw.port, command=COMMAND, total=3.0), resolver=no_dns)
    elapsed = time.monotonic() - started

    assert_failed(outcome, Stage.GREETING, Failure.NO_GREETING)
    assert elapsed < COMMAND + MARGIN
    assert outcome.duration_ms >= COMMAND * 1000 * 0.9
    assert client_lines(outcome.transcript) == []


async def test_no_greeting_on_implicit_port_without_use_ssl(servers: Servers) -> None:
    raw = await servers.raw(never_greet())
    plan = make_plan(raw.port, command=COMMAND, total=3.0, implicit_tls_ports=(465, raw.port))
    started = time.monotonic()
    outcome = await run_test(plan, resolver=no_dns)

    assert_failed(outcome, Stage.GREETING, Failure.NO_GREETING_IMPLICIT_PORT)
    assert time.monotonic() - started < COMMAND + MARGIN


async def test_421_at_greeting(servers: Servers) -> None:
    raw = await servers.raw(busy_421())
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.GREETING, Failure.SERVICE_UNAVAILABLE, 421)
    assert outcome.smtp_message == "4.3.2 Service not available, closing channel"
    assert "421 4.3.2 Service not available, closing channel" in "\n".join(outcome.transcript)


async def test_554_at_greeting(servers: Servers) -> None:
    raw = await servers.raw(Script(greeting=Drop(b"554 5.7.1 No SMTP service for you\r\n")))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.GREETING, Failure.GREETING_REFUSED, 554)


async def test_accept_then_close_before_greeting(servers: Servers) -> None:
    raw = await servers.raw(Script(greeting=Drop()))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.GREETING, Failure.DROPPED)


async def test_greeting_then_drop(servers: Servers) -> None:
    raw = await servers.raw(greet_then_drop())
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.EHLO, Failure.DROPPED)


async def test_ehlo_and_helo_refused(servers: Servers) -> None:
    raw = await servers.raw(
        Script(replies={"EHLO": b"500 5.5.1 no\r\n", "HELO": b"501 5.5.4 bad name\r\n"})
    )
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.EHLO, Failure.EHLO_REFUSED, 501)


async def test_421_at_ehlo(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"EHLO": Drop(b"421 4.3.2 Shutting down\r\n")}))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.EHLO, Failure.SERVICE_UNAVAILABLE, 421)
    assert "HELO" not in raw.verbs()


_GARBAGE_BUG = (
    "BUG: a reply that is not SMTP (aiosmtplib: code -1, 'Malformed SMTP response line') "
    "is diagnosed as the server refusing the step, with SmtpCode -1 and that step's hint"
)


async def test_garbage_greeting_is_a_protocol_error(servers: Servers) -> None:
    raw = await servers.raw(garbage())  # an IMAP banner
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.GREETING, Failure.PROTOCOL_ERROR)


@pytest.mark.parametrize(
    ("verb", "stage"),
    [
        ("EHLO", Stage.EHLO),
        ("MAIL", Stage.MAIL),
        ("RCPT", Stage.RCPT),
        ("DATA", Stage.DATA),
        (".", Stage.DATA),
    ],
)
async def test_garbage_reply_is_a_protocol_error(servers: Servers, verb: str, stage: Stage) -> None:
    raw = await servers.raw(Script(replies={verb: b"+OK POP3 server ready\r\n"}))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, stage, Failure.PROTOCOL_ERROR)


async def test_garbage_greeting_is_at_least_a_failure_at_greeting(servers: Servers) -> None:
    """What happens today: a failure at the right step, nothing sent (class is wrong, above)."""
    raw = await servers.raw(garbage())
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert outcome.success is False
    assert outcome.stage is Stage.GREETING
    assert raw.commands == []


# --- through the API --------------------------------------------------------------


async def test_api_unknown_host(ca_file: Path, tmp_path: Path) -> None:
    resolver = FakeResolver()
    async with api_with(tmp_path / "d", ca_file, resolver=resolver) as client:
        response = await client.post(
            TEST_PATH, json=request_body(25, Host="no-such-relay.example.test")
        )

    assert_api_failed(response, Stage.RESOLVE, Failure.UNKNOWN_HOST)
    assert resolver.asked == ["no-such-relay.example.test"]


async def test_api_connection_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(TEST_PATH, json=request_body(closed_port()))

    body = assert_api_failed(response, Stage.CONNECT, Failure.REFUSED)
    assert body["ConnectedAddress"] is None


async def test_api_no_greeting_on_implicit_port(
    servers: Servers, ca_file: Path, tmp_path: Path
) -> None:
    raw = await servers.raw(never_greet())
    async with api_with(
        tmp_path / "d",
        ca_file,
        implicit_tls_ports=frozenset({465, raw.port}),
        command_timeout=COMMAND,
        test_timeout=3.0,
    ) as client:
        started = time.monotonic()
        response = await client.post(TEST_PATH, json=request_body(raw.port, UseSSL=False))
        elapsed = time.monotonic() - started

    assert_api_failed(response, Stage.GREETING, Failure.NO_GREETING_IMPLICIT_PORT)
    assert elapsed < COMMAND + MARGIN


async def test_api_421_at_greeting(client: httpx.AsyncClient, servers: Servers) -> None:
    raw = await servers.raw(busy_421())
    response = await client.post(TEST_PATH, json=request_body(raw.port))

    body = assert_api_failed(response, Stage.GREETING, Failure.SERVICE_UNAVAILABLE, 421)
    assert body["SmtpMessage"] == "4.3.2 Service not available, closing channel"
    assert "421" in body["Message"]
