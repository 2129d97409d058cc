"""Secret references through the API: refused with a 400 on PUT, diagnosed at the step
``config`` on Test, and read when used."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from smtp_profile.mail.diagnosis import Failure, Stage
from tests.conftest import api_client
from tests.mail.helpers import FakeResolver, assert_api_failed
from tests.oauth.conftest import (
    CLIENT_ID,
    CLIENT_SECRET,
    SMTP_PATH,
    TEST_PATH,
    V2,
    assert_sent_v2,
    open_oauth_runtime,
    send_body,
)
from tests.oauth.relay import OAuthRelay
from tests.oauth.token_server import FakeClock, TokenEndpoint
from tests.support.smtpd import RunningSmtpd, start_smtpd

PASSWORD = "file-Pa55word-9876"


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "run-secrets"
    directory.mkdir()
    (directory / "relay-password").write_text(PASSWORD + "\n")
    (directory / "client-secret").write_text(CLIENT_SECRET)
    return directory


@pytest.fixture
async def ref_api(
    tmp_path: Path,
    ca_file: Path,
    secrets_dir: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("SMTP_RELAY_USER", "svc")
    monkeypatch.setenv("SMTP_RELAY_CLIENT_ID", CLIENT_ID)
    runtime = open_oauth_runtime(
        tmp_path / "data",
        ca_file,
        FakeResolver(),
        clock,
        secret_env_allow="SMTP_RELAY_*",
        secret_file_dirs=str(secrets_dir),
        secret_commands={"client-secret": [sys.executable, "-c", f"print({CLIENT_SECRET!r})"]},
    )
    try:
        async with api_client(runtime) as http:
            http.headers.update(V2)
            yield http
    finally:
        runtime.close()


@pytest.fixture
async def smtpd_user() -> AsyncIterator[RunningSmtpd]:
    server = await start_smtpd(users={"svc": PASSWORD})
    yield server
    await server.stop()


def explicit(port: int, secrets_dir: Path, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "Host": "127.0.0.1",
        "Port": port,
        "RelayAuthenticationType": 2,
        "RelayUsername": {"Provider": "Environment", "Parameters": {"Name": "SMTP_RELAY_USER"}},
        "RelayPassword": {
            "Provider": 2,
            "Parameters": {"Path": str(secrets_dir / "relay-password")},
        },
        "SenderAccount": "alerts@example.test",
        "SenderName": "Alerts",
        "TestRecipient": "ops@example.test",
    }
    body.update(overrides)
    return body


async def test_user_name_from_the_environment_and_password_from_a_file(
    ref_api: httpx.AsyncClient, smtpd_user: RunningSmtpd, secrets_dir: Path
) -> None:
    body = explicit(smtpd_user.port, secrets_dir)
    put = await ref_api.put(SMTP_PATH, json=body)
    assert put.status_code == 200, put.text
    assert put.json()["RelayPassword"] == {
        "SecretValue": None,
        "Provider": 2,
        "Parameters": {"Path": str(secrets_dir / "relay-password")},
    }
    assert put.json()["RelayUsername"]["Provider"] == 1
    v1 = (await ref_api.get(SMTP_PATH, headers={"X-Keyfactor-Api-Version": "1"})).json()
    assert (v1["RelayUsername"], v1["HasPassword"]) == (None, True)
    sent = assert_sent_v2(await ref_api.post(TEST_PATH, json=body))
    assert smtpd_user.auth_attempts == [("PLAIN", "svc")]
    assert PASSWORD not in str(sent)
    # A stored reference is read again at each use: a changed file is picked up.
    (secrets_dir / "relay-password").write_text("rotated-password\n")
    kept = {k: v for k, v in body.items() if k not in ("RelayUsername", "RelayPassword")}
    failed = await ref_api.post(TEST_PATH, json=kept)
    assert_api_failed(failed, Stage.AUTH, Failure.AUTH_FAILED, 535)


async def test_oauth_client_from_references(
    ref_api: httpx.AsyncClient, relay: OAuthRelay, endpoint: TokenEndpoint, secrets_dir: Path
) -> None:
    for secret in (
        {"Provider": "file", "Parameters": {"path": str(secrets_dir / "client-secret")}},
        {"Provider": 3, "Parameters": {"Name": "client-secret"}},
    ):
        body = send_body(
            relay.port,
            endpoint.url(),
            ClientId={"Provider": 1, "Parameters": {"Name": "SMTP_RELAY_CLIENT_ID"}},
            ClientSecret=secret,
        )
        assert_sent_v2(await ref_api.post(TEST_PATH, json=body))
    assert [r.client_id for r in endpoint.requests] == [CLIENT_ID]  # the second was cached


@pytest.mark.parametrize(
    ("secret", "code", "failure", "setting"),
    [
        pytest.param(
            {"Provider": 1, "Parameters": {"Name": "HOME"}},
            "0xA0100018",
            Failure.SECRET_ENV_NOT_ALLOWED,
            "SMTP_PROFILE_SECRET_ENV_ALLOW",
            id="env-not-allowed",
        ),
        pytest.param(
            {"Provider": 1, "Parameters": {"Name": "SMTP_RELAY_NOT_SET"}},
            "0xA0100019",
            Failure.SECRET_ENV_UNSET,
            "SMTP_RELAY_NOT_SET",
            id="env-unset",
        ),
        pytest.param(
            {"Provider": 2, "Parameters": {"Path": "/etc/passwd"}},
            "0xA0100018",
            Failure.SECRET_FILE_NOT_ALLOWED,
            "SMTP_PROFILE_SECRET_FILE_DIRS",
            id="file-outside",
        ),
        pytest.param(
            {"Provider": 2, "Parameters": {"Path": "{dir}/../../../etc/passwd"}},
            "0xA0100018",
            Failure.SECRET_FILE_NOT_ALLOWED,
            "SMTP_PROFILE_SECRET_FILE_DIRS",
            id="file-dot-dot",
        ),
        pytest.param(
            {"Provider": 3, "Parameters": {"Name": "rm -rf /"}},
            "0xA0100018",
            Failure.SECRET_COMMAND_UNKNOWN,
            "SMTP_PROFILE_SECRET_COMMANDS",
            id="command-unknown",
        ),
        pytest.param(
            {"Provider": "vault", "Parameters": {"Path": "secret/smtp"}},
            "0xA0100017",
            Failure.SECRET_PROVIDER_UNKNOWN,
            "Provider",
            id="provider-unknown",
        ),
    ],
)
async def test_refused_reference_is_a_400_on_put_and_a_diagnosis_on_test(
    ref_api: httpx.AsyncClient,
    smtpd_user: RunningSmtpd,
    secrets_dir: Path,
    secret: dict[str, object],
    code: str,
    failure: Failure,
    setting: str,
) -> None:
    parameters = {k: str(v).format(dir=secrets_dir) for k, v in secret["Parameters"].items()}  # type: ignore[attr-defined]
    body = explicit(
        smtpd_user.port, secrets_dir, RelayPassword={**secret, "Parameters": parameters}
    )
    put = await ref_api.put(SMTP_PATH, json=body)
    assert put.status_code == 400 and put.json()["ErrorCode"] == code, put.text
    assert "RelayPassword" in put.json()["Message"] and setting in put.json()["Message"]
    test = assert_api_failed(await ref_api.post(TEST_PATH, json=body), Stage.CONFIG, failure)
    assert test["ErrorCode"] == "0xA0400000"
    assert smtpd_user.connections == []  # nothing was connected to
    assert "root:" not in put.text + str(test)


async def test_stored_reference_that_breaks_later_is_diagnosed(
    ref_api: httpx.AsyncClient, smtpd_user: RunningSmtpd, secrets_dir: Path
) -> None:
    body = explicit(smtpd_user.port, secrets_dir)
    assert (await ref_api.put(SMTP_PATH, json=body)).status_code == 200
    (secrets_dir / "relay-password").unlink()
    kept = {k: v for k, v in body.items() if k != "RelayPassword"}
    failed = assert_api_failed(
        await ref_api.post(TEST_PATH, json=kept), Stage.CONFIG, Failure.SECRET_FILE_UNREADABLE
    )
    assert "Parameters.Path" in failed["Hint"]
