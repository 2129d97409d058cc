"""Export and import through the CLI: profile and audit survive, secrets stay encrypted."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from smtp_profile.runtime import Runtime
from tests.conftest import profile_body
from tests.test_cli import cli_env, run


async def test_export_import_round_trip(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = profile_body(
        2525, RelayAuthenticationType=2, RelayUsername="svc", RelayPassword="backup-secret-1"
    )
    assert (await client.put("/KeyfactorAPI/SMTP", json=body)).status_code == 200
    source_env = cli_env(runtime.settings.data_dir)
    code, exported, err = await run(source_env, "export")
    assert code == 0, err
    assert "backup-secret-1" not in exported
    assert json.loads(exported)["IncludesPassword"] is True

    target = tmp_path / "restored"
    target.mkdir()
    shutil.copy(runtime.settings.resolved_key_file, target / "secret.key")
    target_env = cli_env(target)
    code, out, err = await run(target_env, "import", "-", stdin=exported)
    assert code == 0, err
    assert "intact" in out
    code, shown, _ = await run(target_env, "show")
    restored = json.loads(shown)
    assert restored["Port"] == 2525 and restored["HasPassword"] is True
    code, listing, _ = await run(target_env, "audit", "list", "--json")
    operations = [json.loads(line)["Operation"] for line in listing.splitlines()]
    assert operations[:2] == ["import", "put"]


async def test_export_without_password_and_import_with_another_key(
    runtime: Runtime, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = profile_body(
        RelayAuthenticationType=2, RelayUsername="svc", RelayPassword="backup-secret-2"
    )
    await client.put("/KeyfactorAPI/SMTP", json=body)
    env = cli_env(runtime.settings.data_dir)
    _, exported, _ = await run(env, "export", "--without-password")
    assert json.loads(exported)["Tables"]["profile"][0]["relay_password"] is None
    _, full, _ = await run(env, "export")
    code, _, err = await run(cli_env(tmp_path / "other"), "import", "-", stdin=full)
    assert code != 0 and "another key file" in err
