"""The relay says no: MAIL, RCPT and DATA refusals and how each is classified."""

from __future__ import annotations

import httpx
import pytest

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.sender import run_test
from tests.mail.conftest import Servers
from tests.mail.helpers import (
    PASSWORD,
    TEST_PATH,
    USER,
    assert_api_failed,
    assert_failed,
    client_lines,
    credentials,
    make_plan,
    no_dns,
    request_body,
)
from tests.support.misbehaving import Drop, Script, ehlo_reply
from tests.support.smtpd import RecordingHandler


def _refusing(step: str, reply: str) -> RecordingHandler:
    handler = RecordingHandler()
    setattr(handler, f"refuse_{step}", reply)
    return handler


@pytest.mark.parametrize(
    ("step", "reply", "stage", "failure", "code"),
    [
        (
            "mail",
            "553 5.1.8 Sender address rejected: Domain not found",
            Stage.MAIL,
            Failure.SENDER_REFUSED,
            553,
        ),
        ("mail", "530 5.7.0 Authentication required", Stage.MAIL, Failure.AUTH_REQUIRED, 530),
        ("rcpt", "554 5.7.1 Relay access denied", Stage.RCPT, Failure.RELAY_DENIED, 554),
        (
            "rcpt",
            "550 5.1.1 <ops@example.test>: Recipient address rejected",
            Stage.RCPT,
            Failure.RECIPIENT_REFUSED,
            550,
        ),
        ("rcpt", "530 5.7.0 Authentication required", Stage.RCPT, Failure.AUTH_REQUIRED, 530),
        ("data", "554 5.6.0 Message content rejected", Stage.DATA, Failure.DATA_REFUSED, 554),
    ],
    ids=["mail-553", "mail-530", "rcpt-relay", "rcpt-550", "rcpt-530", "data-554"],
)
async def test_refusal_anonymous(
    servers: Servers, step: str, reply: str, stage: Stage, failure: Failure, code: int
) -> None:
    smtpd = await servers.smtpd(handler=_refusing(step, reply))
    outcome = await run_test(make_plan(smtpd.port), resolver=no_dns)

    assert_failed(outcome, stage, failure, code)
    assert outcome.smtp_message == reply.split(" ", 1)[1]
    assert reply in outcome.transcript[-2]  # the server's line, just before the summary
    assert smtpd.handler.messages == []
    sent = client_lines(outcome.transcript)
    if stage is not Stage.DATA:
        assert "DATA" not in sent


async def test_530_at_mail_after_login_is_sender_refused(servers: Servers) -> None:
    """Logged in and still told 530 at MAIL: the login may not send as SenderAccount."""
    smtpd = await servers.smtpd(
        users={USER: PASSWORD},
        handler=RecordingHandler(refuse_mail="530 5.7.0 Authentication required"),
    )
    outcome = await run_test(make_plan(smtpd.port, login=credentials()), resolver=no_dns)

    assert_failed(outcome, Stage.MAIL, Failure.SENDER_REFUSED, 530)


@pytest.mark.parametrize(
    ("extensions", "failure"),
    [(("AUTH PLAIN LOGIN",), Failure.AUTH_REQUIRED), ((), Failure.SENDER_REFUSED)],
    ids=["auth-offered", "no-auth"],
)
async def test_policy_refusal_at_mail_for_anonymous_client(
    servers: Servers, extensions: tuple[str, ...], failure: Failure
) -> None:
    """553 5.7.1 at MAIL without a login: auth-required when the relay offers AUTH
    (it wants a login), otherwise the sender is refused."""
    raw = await servers.raw(
        Script(
            replies={
                "EHLO": ehlo_reply(*extensions),
                "MAIL": b"553 5.7.1 Sender address rejected: not owned by user\r\n",
            }
        )
    )
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.MAIL, failure, 553)


async def test_starttls_required_by_relay(servers: Servers) -> None:
    """UseSSL off against a relay that insists on STARTTLS first."""
    raw = await servers.raw(
        Script(
            replies={
                "EHLO": ehlo_reply("STARTTLS"),
                "MAIL": b"530 5.7.0 Must issue a STARTTLS command first\r\n",
            }
        )
    )
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.MAIL, Failure.TLS_REQUIRED, 530)
    assert "STARTTLS" not in raw.verbs()


async def test_421_at_rcpt(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"RCPT": Drop(b"421 4.7.0 Too many errors\r\n")}))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.RCPT, Failure.SERVICE_UNAVAILABLE, 421)


@pytest.mark.parametrize(("verb", "stage"), [("MAIL", Stage.MAIL), (".", Stage.DATA)])
async def test_drop_mid_session(servers: Servers, verb: str, stage: Stage) -> None:
    raw = await servers.raw(Script(replies={verb: Drop()}))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, stage, Failure.DROPPED)


async def test_data_refused_at_354_step(servers: Servers) -> None:
    raw = await servers.raw(Script(replies={"DATA": b"554 5.5.1 No valid recipients\r\n"}))
    outcome = await run_test(make_plan(raw.port), resolver=no_dns)

    assert_failed(outcome, Stage.DATA, Failure.DATA_REFUSED, 554)
    assert raw.messages == []


# --- through the API --------------------------------------------------------------


async def test_api_relay_denied(client: httpx.AsyncClient, servers: Servers) -> None:
    smtpd = await servers.smtpd(
        handler=RecordingHandler(refuse_rcpt="554 5.7.1 Relay access denied")
    )
    response = await client.post(TEST_PATH, json=request_body(smtpd.port))

    body = assert_api_failed(response, Stage.RCPT, Failure.RELAY_DENIED, 554)
    assert body["SmtpMessage"] == "5.7.1 Relay access denied"
    assert "554 5.7.1 Relay access denied" in body["Message"]


async def test_api_recipient_auth_required(client: httpx.AsyncClient, servers: Servers) -> None:
    smtpd = await servers.smtpd(
        handler=RecordingHandler(refuse_rcpt="530 5.7.0 Authentication required")
    )
    response = await client.post(TEST_PATH, json=request_body(smtpd.port))

    assert_api_failed(response, Stage.RCPT, Failure.AUTH_REQUIRED, 530)


async def test_api_data_refused(client: httpx.AsyncClient, servers: Servers) -> None:
    smtpd = await servers.smtpd(handler=RecordingHandler(refuse_data="554 5.6.0 Rejected"))
    response = await client.post(TEST_PATH, json=request_body(smtpd.port))

    assert_api_failed(response, Stage.DATA, Failure.DATA_REFUSED, 554)
    assert smtpd.handler.messages == []


async def test_api_sender_refused(client: httpx.AsyncClient, servers: Servers) -> None:
    smtpd = await servers.smtpd(
        handler=RecordingHandler(refuse_mail="553 5.1.8 Sender domain not found")
    )
    response = await client.post(TEST_PATH, json=request_body(smtpd.port))

    assert_api_failed(response, Stage.MAIL, Failure.SENDER_REFUSED, 553)
