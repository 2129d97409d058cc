"""``smtp-profile test --to`` as an operator runs it, against the real bed."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from smtp_profile.cli import STAGE_EXIT_CODES
from smtp_profile.mail.diagnosis import Failure, Stage, hint_for
from tests.relay.bed import RunningBed
from tests.relay_suite.support import base_settings, recipient, relay_api

pytestmark = pytest.mark.relay

COMMAND = [sys.executable, "-m", "smtp_profile"]


def cli_env(data_dir: Path, bed: RunningBed) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_PROFILE_")}
    env.update(
        {
            "SMTP_PROFILE_DATA_DIR": str(data_dir),
            "SMTP_PROFILE_CA_FILE": str(bed.ca_pem),
            "SMTP_PROFILE_IMPLICIT_TLS_PORTS": str(bed.smtps_port),
            "SMTP_PROFILE_HELO_NAME": "cli.example.test",
            "SMTP_PROFILE_CONNECT_TIMEOUT": "2",
            "SMTP_PROFILE_COMMAND_TIMEOUT": "2",
            "SMTP_PROFILE_TEST_TIMEOUT": "5",
        }
    )
    return env


async def run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def store_profile(data_dir: Path, bed: RunningBed, port: int, **fields: object) -> None:
    """PUT the profile through the API, then close the runtime (the CLI opens its own)."""
    async with relay_api(data_dir, **base_settings(bed)) as api:
        response = await api.put(port, **fields)
        assert response.status_code == 200, response.text


async def test_cli_test_delivers_through_the_stored_profile(
    tmp_path: Path, relay_bed: RunningBed
) -> None:
    data_dir = tmp_path / "data"
    password = relay_bed.user("CORP\\bob").password
    await store_profile(
        data_dir,
        relay_bed,
        relay_bed.smtps_port,
        Host="localhost",
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername="CORP\\bob",
        RelayPassword=password,
    )
    env = cli_env(data_dir, relay_bed)

    to = recipient("cli")
    code, out, err = await run(env, "test", "--to", to)
    assert code == 0, out + err
    assert out.startswith("Test message accepted by the relay.\n"), out
    assert "\nTLS: TLSv1." in out and "certificate OU=" in out, out
    assert "authenticating as CORP\\bob with PLAIN" in out and "C: AUTH PLAIN ***" in out
    assert f"C: RCPT TO:<{to}>" in out and "S: 250 2.0.0 Ok: queued as" in out
    assert password not in out + err
    (message,) = relay_bed.wait_for_messages(to, timeout=10.0)
    assert "(Authenticated sender: CORP?bob)" in " ".join(str(message["Received"]).split())

    to_json = recipient("cli-json")
    code, out, err = await run(env, "test", "--to", to_json, "--json")
    assert code == 0, out + err
    result = json.loads(out)
    assert result["Success"] is True and result["Failure"] is None
    assert result["Tls"]["Verified"] is True and result["Tls"]["Version"].startswith("TLSv1.")
    relay_bed.wait_for_messages(to_json, timeout=10.0)


@pytest.mark.parametrize(
    ("listener", "fields", "stage", "failure", "smtp_code"),
    [
        pytest.param(
            "badcert_port",
            {"Host": "localhost", "UseSSL": True},
            Stage.TLS,
            Failure.CERT_UNTRUSTED,
            None,
            id="untrusted-certificate",
        ),
        pytest.param(
            "submission_port",
            {
                "Host": "localhost",
                "UseSSL": True,
                "RelayAuthenticationType": 2,
                "RelayUsername": "alice",
                "RelayPassword": "not-alices-password",
            },
            Stage.AUTH,
            Failure.AUTH_FAILED,
            535,
            id="wrong-password",
        ),
    ],
)
async def test_cli_test_failure_exits_with_the_stage_code(
    tmp_path: Path,
    relay_bed: RunningBed,
    listener: str,
    fields: dict[str, object],
    stage: Stage,
    failure: Failure,
    smtp_code: int | None,
) -> None:
    data_dir = tmp_path / "data"
    await store_profile(data_dir, relay_bed, getattr(relay_bed, listener), **fields)
    env = cli_env(data_dir, relay_bed)
    to = recipient("cli-fail")

    code, out, err = await run(env, "test", "--to", to)
    assert code == STAGE_EXIT_CODES[stage], out + err
    assert out.startswith(f"Test failed at step '{stage.value}'"), out
    assert f"\nHint: {hint_for(failure).text()}\n" in out, out
    assert "Transcript:" in out

    code, out, err = await run(env, "test", "--to", to, "--json")
    assert code == STAGE_EXIT_CODES[stage], out + err
    result = json.loads(out)
    assert (result["Stage"], result["Failure"], result["SmtpCode"]) == (
        stage.value,
        failure.value,
        smtp_code,
    )
    assert result["Hint"] == hint_for(failure).text()
    if "RelayPassword" in fields:
        assert str(fields["RelayPassword"]) not in out + err
