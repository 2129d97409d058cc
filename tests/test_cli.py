"""The console command as operators script it, against real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from smtp_profile.accounts import Principal, Role
from smtp_profile.cli import STAGE_EXIT_CODES
from smtp_profile.mail.diagnosis import Stage
from smtp_profile.profile import parse_profile_request
from smtp_profile.runtime import open_runtime
from smtp_profile.settings import Settings
from tests.conftest import API_HEADERS, profile_body
from tests.support.smtpd import RunningSmtpd

COMMAND = [sys.executable, "-m", "smtp_profile"]


def cli_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_PROFILE_")}
    env.update(
        {
            "SMTP_PROFILE_DATA_DIR": str(data_dir),
            "SMTP_PROFILE_HELO_NAME": "cli.test",
            "SMTP_PROFILE_COMMAND_TIMEOUT": "2",
            "SMTP_PROFILE_TEST_TIMEOUT": "5",
        }
    )
    env.update(extra)
    return env


async def run(env: dict[str, str], *args: str, stdin: str = "") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_users_add_list_remove_before_the_service_ever_ran(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data")
    code, out, err = await run(
        env,
        "users",
        "add",
        "CORP\\ops",
        "--role",
        "reader",
        "--password-stdin",
        stdin="reader-password-1\n",
    )
    assert code == 0, err
    code, out, _ = await run(env, "users", "list")
    assert code == 0 and re.search(r"^CORP\\ops\treader\t", out, re.M)
    code, _, err = await run(
        env,
        "users",
        "add",
        "CORP\\ops",
        "--role",
        "admin",
        "--password-stdin",
        stdin="another-password-1\n",
    )
    assert code != 0 and "already exists" in err
    code, _, _ = await run(env, "users", "remove", "corp\\OPS")
    assert code == 0
    code, out, _ = await run(env, "users", "list")
    assert "CORP\\ops" not in out


async def test_users_add_refuses_a_short_password(tmp_path: Path) -> None:
    code, _, err = await run(
        cli_env(tmp_path / "d"),
        "users",
        "add",
        "x",
        "--role",
        "admin",
        "--password-stdin",
        stdin="short\n",
    )
    assert code != 0 and "at least" in err


async def test_invalid_setting_is_named(tmp_path: Path) -> None:
    code, _, err = await run(cli_env(tmp_path / "d", SMTP_PROFILE_TEST_TIMEOUT="soon"), "show")
    assert code != 0 and "SMTP_PROFILE_TEST_TIMEOUT" in err


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, str, dict[str, str]]]:
    """``smtp-profile serve`` as a real process; yields its URL and first admin password."""
    env = cli_env(tmp_path / "data")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *COMMAND,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    password = None
    try:
        async with asyncio.timeout(30):
            async for raw in process.stderr:
                line = raw.decode().strip()
                if password is None and re.fullmatch(r"[A-Za-z0-9_-]{20,}", line):
                    password = line
                if "listening on" in line:
                    break
            await _wait_until_listening(port)
        assert password is not None
        yield f"http://127.0.0.1:{port}", password, env
    finally:
        process.terminate()
        await process.wait()


async def _wait_until_listening(port: int) -> None:
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return


async def test_readme_flow_serve_put_get_test_show(
    served: tuple[str, str, dict[str, str]],
    smtpd: RunningSmtpd,
) -> None:
    url, password, env = served
    async with httpx.AsyncClient(
        base_url=url, headers=API_HEADERS, auth=("admin", password)
    ) as http:
        body = profile_body(smtpd.port)
        assert (await http.put("/KeyfactorAPI/SMTP", json=body)).status_code == 200
        form = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in body.items()}
        put_form = await http.put("/KeyfactorAPI/SMTP", data=form)
        assert put_form.status_code == 200, put_form.text
        got = (await http.get("/KeyfactorAPI/SMTP")).json()
        assert got["Port"] == smtpd.port and "RelayPassword" not in got
        test = await http.post(
            "/KeyfactorAPI/SMTP/Test", json={**body, "TestRecipient": "ops@example.test"}
        )
        assert test.status_code == 200, test.text
    assert smtpd.handler.messages[0].rcpt_tos == ["ops@example.test"]

    code, out, _ = await run(env, "show")
    assert code == 0 and json.loads(out)["Port"] == smtpd.port
    code, out, _ = await run(env, "test", "--to", "cli@example.test")
    assert code == 0, out
    assert "accepted" in out and "RCPT TO:<cli@example.test>" in out
    assert smtpd.handler.messages[-1].rcpt_tos == ["cli@example.test"]


async def test_cli_test_failure_exits_non_zero_with_the_stage(
    tmp_path: Path,
    smtpd: RunningSmtpd,
) -> None:
    data_dir = tmp_path / "data"
    runtime = open_runtime(Settings(data_dir=data_dir))
    closed = free_port()
    runtime.service.replace(
        parse_profile_request(profile_body(closed)), actor=Principal("admin", Role.ADMIN)
    )
    runtime.close()
    code, out, _ = await run(cli_env(data_dir), "test", "--to", "ops@example.test", "--json")
    assert code == STAGE_EXIT_CODES[Stage.CONNECT]
    result = json.loads(out)
    assert result["Stage"] == "connect" and result["Failure"] == "connection-refused"
