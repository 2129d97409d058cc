"""Plans, resolvers, API runtimes and assertions shared by the mail integration tests."""

from __future__ import annotations

import base64
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from smtp_profile.errors import STAGE_CODES
from smtp_profile.mail.diagnosis import Failure, Stage, hint_for
from smtp_profile.mail.message import build_test_message, needs_smtputf8
from smtp_profile.mail.plan import (
    Credentials,
    Integrated,
    QuitAfter,
    SendPlan,
    TestOutcome,
    Timeouts,
    TlsPolicy,
)
from smtp_profile.mail.sender import Resolver
from smtp_profile.mail.tlsmode import TlsMode
from smtp_profile.runtime import open_runtime
from smtp_profile.secret import Secret
from tests.conftest import add_users, api_client, make_settings, profile_body

SENDER = "alerts@example.test"
SENDER_NAME = "Certificate Alerts"
RECIPIENT = "ops@example.test"
HELO = "client.example.test"
USER = "relay-user"
PASSWORD = "Tr0ub4dor-3-relay-pass"
TEST_PATH = "/KeyfactorAPI/SMTP/Test"
TRANSCRIPT_LINE = re.compile(r"\+\d+\.\d{3}s [CS*]: .*")


def credentials(username: str = USER, password: str = PASSWORD) -> Credentials:
    return Credentials(username=username, password=Secret(password))


def make_plan(
    port: int,
    *,
    host: str = "127.0.0.1",
    tls_mode: TlsMode = TlsMode.NONE,
    ca_file: Path | None = None,
    verify: bool = True,
    login: Credentials | Integrated | None = None,
    sender: str = SENDER,
    sender_name: str = SENDER_NAME,
    recipient: str = RECIPIENT,
    connect: float = 1.0,
    command: float = 1.0,
    total: float = 3.0,
    allow_cleartext_auth: bool = False,
    implicit_tls_ports: tuple[int, ...] = (465,),
    quit_after: QuitAfter | None = None,
) -> SendPlan:
    """A plan built the way ``ProfileService.build_plan`` builds one."""
    message = build_test_message(
        sender_account=sender,
        sender_name=sender_name,
        recipient=recipient,
        sent_at=datetime.now(UTC),
        message_id_domain=sender.rpartition("@")[2],
    )
    return SendPlan(
        host=host,
        port=port,
        tls_mode=tls_mode,
        tls_policy=TlsPolicy(verify=verify, ca_file=ca_file),
        login=login,
        sender=sender,
        recipient=recipient,
        message=message.as_bytes(),
        helo_name=HELO,
        timeouts=Timeouts(connect=connect, command=command, total=total),
        allow_cleartext_auth=allow_cleartext_auth,
        smtputf8=needs_smtputf8(sender, recipient),
        implicit_tls_ports=implicit_tls_ports,
        quit_after=quit_after,
    )


class FakeResolver:
    """Answers from a table; any other name does not resolve. Never asks real DNS."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host in self.table:
            return list(self.table[host])
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


no_dns: Resolver = FakeResolver()


def secret_forms(username: str = USER, password: str = PASSWORD) -> list[str]:
    """The password as it could leak: plain, base64, and the AUTH PLAIN blob."""
    raw = password.encode()
    return [
        password,
        base64.b64encode(raw).decode(),
        base64.b64encode(f"\0{username}\0{password}".encode()).decode(),
        base64.b64encode(f"{username}\0{username}\0{password}".encode()).decode(),
    ]


def assert_no_secret(text: str, username: str = USER, password: str = PASSWORD) -> None:
    for form in secret_forms(username, password):
        assert form not in text, f"secret form {form!r} leaked"


def assert_transcript(lines: list[str]) -> None:
    assert isinstance(lines, list)
    assert lines, "empty transcript"
    for line in lines:
        assert TRANSCRIPT_LINE.fullmatch(line), line


def client_lines(lines: list[str]) -> list[str]:
    return [line.split(" C: ", 1)[1] for line in lines if " C: " in line]


def server_lines(lines: list[str]) -> list[str]:
    return [line.split(" S: ", 1)[1] for line in lines if " S: " in line]


def assert_failed(
    outcome: TestOutcome, stage: Stage, failure: Failure, code: int | None = None
) -> None:
    context = "\n".join(outcome.transcript)
    assert outcome.success is False, context
    assert (outcome.stage, outcome.failure, outcome.smtp_code) == (stage, failure, code), context
    assert outcome.hint == hint_for(failure).text()
    assert_transcript(outcome.transcript)


def assert_sent(outcome: TestOutcome) -> None:
    context = "\n".join(outcome.transcript)
    assert outcome.success is True, f"{outcome.stage} {outcome.failure} {outcome.detail}\n{context}"
    assert outcome.failure is None
    assert outcome.hint is None
    assert_transcript(outcome.transcript)


def assert_api_failed(
    response: httpx.Response, stage: Stage, failure: Failure, code: int | None = None
) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body: dict[str, Any] = response.json()
    assert body["Success"] is False
    assert (body["Stage"], body["Failure"], body["SmtpCode"]) == (
        stage.value,
        failure.value,
        code,
    ), body
    assert body["Hint"] == hint_for(failure).text()
    assert body["ErrorCode"] == STAGE_CODES[stage.value]
    assert re.fullmatch(r"0xA0[0-9A-F]{6}", body["ErrorCode"])
    assert body["Message"]
    assert isinstance(body["DurationMs"], int)
    assert_transcript(body["Transcript"])
    return body


def assert_api_sent(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["Success"] is True
    assert body["Failure"] is None and body["Hint"] is None
    assert isinstance(body["DurationMs"], int) and body["DurationMs"] >= 0
    assert_transcript(body["Transcript"])
    assert "RelayPassword" not in body
    return body


def request_body(port: int, **overrides: object) -> dict[str, object]:
    """A Test request body: the conftest profile plus the recipient."""
    return {**profile_body(port, **overrides), "TestRecipient": RECIPIENT}


@contextlib.asynccontextmanager
async def api_with(
    data_dir: Path, ca_file: Path, *, resolver: Resolver = no_dns, **overrides: object
) -> AsyncIterator[httpx.AsyncClient]:
    """An API client over a runtime whose settings have ``overrides``."""
    runtime = open_runtime(make_settings(data_dir, ca_file=ca_file, **overrides), resolver=resolver)
    try:
        add_users(runtime)
        async with api_client(runtime) as http:
            yield http
    finally:
        runtime.close()
