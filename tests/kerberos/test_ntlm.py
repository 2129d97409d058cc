"""Type 1 with NTLM against aiosmtpd whose AUTH NTLM is checked by pyspnego's acceptor.

No system packages and no root: these run in the fast suite.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from smtp_profile.mail.diagnosis import Failure, Stage, hint_for
from smtp_profile.mail.integrated import IntegratedAuthError, ServiceIdentity, authenticate
from smtp_profile.mail.plan import Integrated
from smtp_profile.mail.sender import run_test
from smtp_profile.mail.tlsmode import TlsMode
from smtp_profile.mail.transcript import Transcript
from tests.kerberos.conftest import NTLM_LOGIN, NTLM_PASSWORD, tap_to
from tests.kerberos.ntlm_server import RunningNtlmServer, start_ntlm_server
from tests.kerberos.wiretap import Wiretap
from tests.mail.helpers import (
    RECIPIENT,
    TEST_PATH,
    FakeResolver,
    api_with,
    assert_api_failed,
    assert_api_sent,
    assert_failed,
    assert_sent,
    client_lines,
    make_plan,
    no_dns,
    request_body,
    server_lines,
)
from tests.support.smtpd import start_smtpd


def assert_no_token(text: str, tap: Wiretap) -> None:
    tokens = tap.tokens()
    assert len(tokens) >= 3, tap.from_client  # NEGOTIATE, CHALLENGE, AUTHENTICATE
    for token in tokens:
        assert token not in text, f"token {token[:20]}... in the transcript"
    assert NTLM_PASSWORD not in text


def assert_redacted_exchange(transcript: list[str], mechanism: str) -> None:
    sent, received = client_lines(transcript), server_lines(transcript)
    auth = sent.index(f"AUTH {mechanism}")
    assert sent[auth + 1 : auth + 3] == ["***", "***"], sent
    assert [line for line in received if line.startswith("334")] == ["334 ***"] * 2


async def test_ntlm_login_sends_the_message(
    ntlm_server: RunningNtlmServer, ntlm_identity: ServiceIdentity, wiretaps: list[Wiretap]
) -> None:
    tap = await tap_to(wiretaps, ntlm_server.port)
    outcome = await run_test(
        make_plan(tap.port, login=Integrated(identity=ntlm_identity)), resolver=no_dns
    )

    assert_sent(outcome)
    assert ntlm_server.log.accepted == [NTLM_LOGIN]
    assert [m.rcpt_tos for m in ntlm_server.handler.messages] == [[RECIPIENT]]
    assert_redacted_exchange(outcome.transcript, "NTLM")
    assert f"own identity: {NTLM_LOGIN} with NTLM" in "\n".join(outcome.transcript)
    assert_no_token("\n".join(outcome.transcript), tap)


async def test_ntlm_user_name_in_upn_form(
    tmp_path: Path, ntlm_server: RunningNtlmServer, ntlm_password_file: Path
) -> None:
    (tmp_path / "ntlm-users").write_text(f":svc-mail@corp.example.com:{NTLM_PASSWORD}\n")
    identity = ServiceIdentity(
        ntlm_username="svc-mail@corp.example.com", ntlm_password_file=ntlm_password_file
    )
    outcome = await run_test(
        make_plan(ntlm_server.port, login=Integrated(identity=identity)), resolver=no_dns
    )

    assert_sent(outcome)
    assert ntlm_server.log.accepted == ["svc-mail@corp.example.com"]


async def test_exchange_style_first_reply(ntlm_users: Path, ntlm_identity: ServiceIdentity) -> None:
    """Exchange answers a bare AUTH NTLM with "334 NTLM supported", which is no token."""
    server = await start_ntlm_server(first_reply=b"NTLM supported")
    try:
        outcome = await run_test(
            make_plan(server.port, login=Integrated(identity=ntlm_identity)), resolver=no_dns
        )
    finally:
        await server.stop()

    assert_sent(outcome)
    assert server.log.accepted == [NTLM_LOGIN]


async def test_a_challenge_that_is_not_base64_cancels_the_exchange(
    ntlm_users: Path, ntlm_identity: ServiceIdentity
) -> None:
    server = await start_ntlm_server(garbage_challenge=True)
    try:
        outcome = await run_test(
            make_plan(server.port, login=Integrated(identity=ntlm_identity)), resolver=no_dns
        )
    finally:
        await server.stop()

    assert_failed(outcome, Stage.AUTH, Failure.PROTOCOL_ERROR)
    assert client_lines(outcome.transcript)[-2:] == ["***", "*"]  # NEGOTIATE, cancel
    assert "501 5.7.0 Auth aborted" in server_lines(outcome.transcript)
    assert server.log.refused == ["aborted by the client"]


async def test_wrong_password_is_auth_failed(
    tmp_path: Path, ntlm_server: RunningNtlmServer, ntlm_identity: ServiceIdentity
) -> None:
    assert ntlm_identity.ntlm_password_file is not None
    ntlm_identity.ntlm_password_file.write_text("not-the-password\n")
    outcome = await run_test(
        make_plan(ntlm_server.port, login=Integrated(identity=ntlm_identity)), resolver=no_dns
    )

    assert_failed(outcome, Stage.AUTH, Failure.AUTH_FAILED, 535)
    assert outcome.smtp_message == "5.7.8 Authentication credentials invalid"
    assert ntlm_server.log.accepted == [] and len(ntlm_server.log.refused) == 1
    assert ntlm_server.handler.messages == []
    assert "SMTP_PROFILE_NTLM_USERNAME" in (outcome.hint or "")
    assert "not-the-password" not in "\n".join(outcome.transcript)


async def test_the_password_file_is_read_at_each_test(
    ntlm_server: RunningNtlmServer, ntlm_identity: ServiceIdentity
) -> None:
    assert ntlm_identity.ntlm_password_file is not None
    plan = make_plan(ntlm_server.port, login=Integrated(identity=ntlm_identity))
    ntlm_identity.ntlm_password_file.write_text("old-password\n")
    assert_failed(await run_test(plan, resolver=no_dns), Stage.AUTH, Failure.AUTH_FAILED, 535)

    ntlm_identity.ntlm_password_file.write_text(f"{NTLM_PASSWORD}\n")  # rotated back
    assert_sent(await run_test(plan, resolver=no_dns))


@pytest.mark.parametrize(
    ("values", "failure", "setting"),
    [
        pytest.param(
            {},
            Failure.INTEGRATED_NOT_CONFIGURED,
            "SMTP_PROFILE_NTLM_USERNAME and SMTP_PROFILE_NTLM_PASSWORD_FILE",
            id="nothing",
        ),
        pytest.param(
            {"ntlm_username": NTLM_LOGIN},
            Failure.NTLM_PASSWORD_FILE_NOT_SET,
            "Set SMTP_PROFILE_NTLM_PASSWORD_FILE",
            id="no-password-file",
        ),
        pytest.param(
            {"ntlm_password_file": Path("/nonexistent")},
            Failure.NTLM_USERNAME_NOT_SET,
            "Set SMTP_PROFILE_NTLM_USERNAME",
            id="no-username",
        ),
    ],
)
async def test_missing_identity_names_the_setting_and_sends_nothing(
    ntlm_server: RunningNtlmServer, values: dict[str, object], failure: Failure, setting: str
) -> None:
    identity = ServiceIdentity(**values)  # type: ignore[arg-type]
    outcome = await run_test(
        make_plan(ntlm_server.port, login=Integrated(identity=identity)), resolver=no_dns
    )

    assert_failed(outcome, Stage.AUTH, failure)
    assert setting in (outcome.hint or "")
    assert not any(line.startswith(("AUTH", "MAIL")) for line in client_lines(outcome.transcript))
    assert ntlm_server.log.auth_commands == 0


@pytest.mark.parametrize("content", [None, ""], ids=["missing", "empty"])
async def test_unreadable_password_file(
    tmp_path: Path, ntlm_server: RunningNtlmServer, content: str | None
) -> None:
    path = tmp_path / "password"
    if content is not None:
        path.write_text(content)
    identity = ServiceIdentity(ntlm_username=NTLM_LOGIN, ntlm_password_file=path)
    outcome = await run_test(
        make_plan(ntlm_server.port, login=Integrated(identity=identity)), resolver=no_dns
    )

    assert_failed(outcome, Stage.AUTH, Failure.NTLM_PASSWORD_UNREADABLE)
    assert ntlm_server.log.auth_commands == 0


async def test_a_relay_without_ntlm_is_no_common_mechanism(
    ntlm_users: Path, ntlm_identity: ServiceIdentity
) -> None:
    smtpd = await start_smtpd(users={"someone": "x"})  # PLAIN and LOGIN
    try:
        outcome = await run_test(
            make_plan(smtpd.port, login=Integrated(identity=ntlm_identity)), resolver=no_dns
        )
    finally:
        await smtpd.stop()

    assert_failed(outcome, Stage.AUTH, Failure.NO_COMMON_MECHANISM)
    assert "offers LOGIN PLAIN; the service identity can use NTLM" in outcome.detail
    assert not any(line.startswith("AUTH") for line in client_lines(outcome.transcript))


async def test_a_relay_without_auth(ntlm_identity: ServiceIdentity) -> None:
    smtpd = await start_smtpd()
    try:
        outcome = await run_test(
            make_plan(smtpd.port, login=Integrated(identity=ntlm_identity)), resolver=no_dns
        )
    finally:
        await smtpd.stop()

    assert_failed(outcome, Stage.AUTH, Failure.AUTH_NOT_OFFERED)


async def test_ntlm_over_starttls(
    ntlm_users: Path, ntlm_identity: ServiceIdentity, server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    server = await start_ntlm_server(starttls_context=server_tls)
    try:
        plan = make_plan(
            server.port,
            host="localhost",
            tls_mode=TlsMode.STARTTLS,
            ca_file=ca_file,
            login=Integrated(identity=ntlm_identity),
        )
        outcome = await run_test(plan, resolver=FakeResolver({"localhost": ["127.0.0.1"]}))
    finally:
        await server.stop()

    assert_sent(outcome)
    assert server.log.accepted == [NTLM_LOGIN]


async def test_ntlm_is_refused_in_clear_text_to_another_host(
    ntlm_server: RunningNtlmServer, ntlm_identity: ServiceIdentity
) -> None:
    """What the sender does for a non-loopback relay without TLS (the server here is on
    the loopback, so the sender's rule is given as the operator setting it depends on)."""
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=ntlm_server.port, start_tls=False)
    await smtp.connect()
    await smtp.ehlo()
    try:
        with pytest.raises(IntegratedAuthError) as raised:
            await authenticate(
                smtp,
                ntlm_identity,
                host="relay.example.test",
                transcript=Transcript(),
                encrypted=False,
                cleartext_allowed=False,
            )
    finally:
        await smtp.quit()

    assert raised.value.failure is Failure.NTLM_CLEARTEXT_REFUSED
    assert ntlm_server.log.auth_commands == 0


async def test_the_identity_goes_only_to_the_listed_relays(
    ntlm_server: RunningNtlmServer, ntlm_password_file: Path
) -> None:
    identity = ServiceIdentity(
        ntlm_username=NTLM_LOGIN,
        ntlm_password_file=ntlm_password_file,
        relay_hosts=frozenset({"localhost"}),
    )
    resolver = FakeResolver({"localhost": ["127.0.0.1"]})
    refused = await run_test(
        make_plan(ntlm_server.port, login=Integrated(identity=identity)), resolver=resolver
    )
    allowed = await run_test(
        make_plan(ntlm_server.port, host="localhost", login=Integrated(identity=identity)),
        resolver=resolver,
    )

    assert_failed(refused, Stage.AUTH, Failure.INTEGRATED_HOST_NOT_ALLOWED)
    assert_sent(allowed)
    assert ntlm_server.log.auth_commands == 1


# --------------------------------------------------------------------- the API


async def test_api_type_1_with_ntlm(
    tmp_path: Path,
    ca_file: Path,
    ntlm_server: RunningNtlmServer,
    ntlm_password_file: Path,
    wiretaps: list[Wiretap],
) -> None:
    tap = await tap_to(wiretaps, ntlm_server.port)
    async with api_with(
        tmp_path / "data",
        ca_file,
        ntlm_username=NTLM_LOGIN,
        ntlm_password_file=ntlm_password_file,
    ) as client:
        response = await client.post(
            TEST_PATH, json=request_body(tap.port, RelayAuthenticationType=1)
        )

    body = assert_api_sent(response)
    assert "RelayUsername" not in body or body["RelayUsername"] is None
    assert ntlm_server.log.accepted == [NTLM_LOGIN]
    assert_redacted_exchange(body["Transcript"], "NTLM")
    assert_no_token(response.text, tap)


async def test_api_type_1_not_configured_names_the_settings(client: httpx.AsyncClient) -> None:
    server = await start_ntlm_server()
    try:
        response = await client.post(
            TEST_PATH, json=request_body(server.port, RelayAuthenticationType=1)
        )
    finally:
        await server.stop()

    body = assert_api_failed(response, Stage.AUTH, Failure.INTEGRATED_NOT_CONFIGURED)
    assert body["Hint"] == hint_for(Failure.INTEGRATED_NOT_CONFIGURED).text()
    assert "SMTP_PROFILE_KERBEROS_KEYTAB and SMTP_PROFILE_KERBEROS_PRINCIPAL" in body["Hint"]
    assert "SMTP_PROFILE_NTLM_USERNAME and SMTP_PROFILE_NTLM_PASSWORD_FILE" in body["Hint"]
    assert server.log.auth_commands == 0
