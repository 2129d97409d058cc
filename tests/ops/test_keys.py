"""Key rotation keeps every secret usable, also for an instance that started before it."""

from __future__ import annotations

import httpx
import pytest

from smtp_profile.crypto import SecretBox, generate_key, read_keys, write_keys
from smtp_profile.errors import ConfigurationError, SecretUnreadable
from smtp_profile.keys import retire_old_keys, rotate_keys
from smtp_profile.runtime import Runtime, open_runtime
from smtp_profile.store.profiles import load_profile
from tests.conftest import profile_body
from tests.support.smtpd import start_smtpd


async def test_rotation_keeps_test_working_with_the_stored_password(
    runtime: Runtime,
    client: httpx.AsyncClient,
) -> None:
    server = await start_smtpd(users={"svc": "rotate-me-123"})
    body = profile_body(server.port, RelayAuthenticationType=2, RelayUsername="svc")
    test_body = {**body, "TestRecipient": "ops@example.test"}
    try:
        assert (
            await client.put("/KeyfactorAPI/SMTP", json={**body, "RelayPassword": "rotate-me-123"})
        ).status_code == 200
        old_keys = read_keys(runtime.settings.resolved_key_file)
        with runtime.database.read() as connection:
            old_token = load_profile(connection).password_token

        # A second process rotates; this one still holds the old keys in memory.
        other = open_runtime(runtime.settings)
        report = rotate_keys(other, actor="operator")
        assert report.secrets_reencrypted == 2 and report.keys_in_file == 2
        assert retire_old_keys(other) == 1
        other.close()

        with runtime.database.read() as connection:
            new_token = load_profile(connection).password_token
        assert new_token != old_token
        assert new_token is not None
        with pytest.raises(SecretUnreadable):
            SecretBox(old_keys).decrypt(new_token)

        response = await client.post("/KeyfactorAPI/SMTP/Test", json=test_body)
        assert response.status_code == 200, response.text
        assert server.auth_attempts == [("PLAIN", "svc")]
    finally:
        await server.stop()
    assert runtime.trail.verify().ok
    restarted = open_runtime(runtime.settings)
    assert restarted.trail.verify().ok
    restarted.close()


def test_retire_refuses_while_a_secret_needs_an_old_key(runtime: Runtime) -> None:
    key_file = runtime.settings.resolved_key_file
    write_keys(key_file, [generate_key(), *read_keys(key_file)])
    with pytest.raises(ConfigurationError, match="rotate"):
        retire_old_keys(runtime)
    assert len(read_keys(key_file)) == 2
