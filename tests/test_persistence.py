"""The profile survives a restart; the key file is private; a wrong key stops startup."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from smtp_profile.crypto import generate_key
from smtp_profile.errors import ConfigurationError
from smtp_profile.runtime import open_runtime
from smtp_profile.settings import Settings
from tests.conftest import add_users, api_client, profile_body

BODY = profile_body(
    2525,
    RelayAuthenticationType=2,
    RelayUsername="CORP\\svc",
    RelayPassword="persist-pass-1",
    SenderName="Zertifikat-Wächter",
)


async def _put(settings: Settings) -> dict[str, object]:
    runtime = open_runtime(settings)
    add_users(runtime)
    try:
        async with api_client(runtime) as http:
            response = await http.put("/KeyfactorAPI/SMTP", json=BODY)
            assert response.status_code == 200
            return dict(response.json())
    finally:
        runtime.close()


async def test_restart_on_the_same_data_directory_keeps_the_profile(settings: Settings) -> None:
    stored = await _put(settings)
    runtime = open_runtime(settings)
    try:
        async with api_client(runtime) as http:
            assert (await http.get("/KeyfactorAPI/SMTP")).json() == stored
    finally:
        runtime.close()
    assert stored["SenderName"] == "Zertifikat-Wächter"


async def test_key_file_is_created_private(settings: Settings) -> None:
    await _put(settings)
    mode = stat.S_IMODE(settings.resolved_key_file.stat().st_mode)
    assert mode == 0o600


async def test_missing_key_file_with_a_stored_secret_refuses_to_start(
    settings: Settings,
) -> None:
    await _put(settings)
    settings.resolved_key_file.unlink()
    with pytest.raises(ConfigurationError, match="key file"):
        open_runtime(settings)
    assert not settings.resolved_key_file.exists()


async def test_wrong_key_refuses_to_start_and_keeps_the_secret(settings: Settings) -> None:
    await _put(settings)
    original = settings.resolved_key_file.read_bytes()
    settings.resolved_key_file.write_bytes(generate_key() + b"\n")
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        open_runtime(settings)
    settings.resolved_key_file.write_bytes(original)
    open_runtime(settings).close()


def test_operator_key_file_elsewhere(tmp_path: Path, settings: Settings) -> None:
    key_file = tmp_path / "keys" / "relay.key"
    custom = Settings(**{**settings.model_dump(), "secret_key_file": key_file})
    open_runtime(custom).close()
    assert key_file.exists()
    assert not (settings.data_dir / "secret.key").exists()
