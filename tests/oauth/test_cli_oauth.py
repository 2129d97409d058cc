"""`smtp-profile show` and `smtp-profile test` with an OAuth profile (type 3)."""

from __future__ import annotations

import json
from pathlib import Path

from smtp_profile.accounts import Principal, Role
from smtp_profile.cli import STAGE_EXIT_CODES
from smtp_profile.mail.diagnosis import Stage
from smtp_profile.profile_v2 import parse_profile_request_v2
from smtp_profile.runtime import open_runtime
from smtp_profile.settings import Settings
from tests.oauth.conftest import CLIENT_SECRET, oauth_body
from tests.oauth.relay import OAuthRelay
from tests.oauth.token_server import TokenEndpoint
from tests.test_cli import cli_env, run


def store(data_dir: Path, body: dict[str, object]) -> None:
    runtime = open_runtime(Settings(data_dir=data_dir))
    runtime.service.replace(parse_profile_request_v2(body), actor=Principal("admin", Role.ADMIN))
    runtime.close()


async def test_show_and_test_an_oauth_profile(
    tmp_path: Path, relay: OAuthRelay, endpoint: TokenEndpoint
) -> None:
    data_dir = tmp_path / "data"
    store(data_dir, oauth_body(relay.port, endpoint.url()))
    env = cli_env(data_dir)
    code, out, _ = await run(env, "show")
    shown = json.loads(out)
    assert code == 0 and shown["RelayAuthenticationType"] == 3
    assert shown["TokenEndpoint"] == endpoint.url() and shown["ClientSecret"]["SecretValue"] is None
    assert CLIENT_SECRET not in out
    code, out, _ = await run(env, "show", "--api-version", "1")
    assert code == 0 and "ClientSecret" not in json.loads(out)

    code, out, err = await run(env, "test", "--to", "cli@example.test")
    assert code == 0, out + err
    assert "AUTH XOAUTH2 ***" in out and relay.attempts[0].accepted
    assert CLIENT_SECRET not in out + err and relay.attempts[0].token not in out + err

    endpoint.clients.clear()  # the client is no longer known: a token failure
    code, out, _ = await run(env, "test", "--to", "cli@example.test", "--json")
    assert code == STAGE_EXIT_CODES[Stage.TOKEN] == 21
    result = json.loads(out)
    assert (result["Stage"], result["Failure"]) == ("token", "token-invalid-client")


def test_stage_exit_codes_keep_their_numbers() -> None:
    assert [STAGE_EXIT_CODES[stage] for stage in Stage] == list(range(10, 22))
    assert STAGE_EXIT_CODES[Stage.QUIT] == 20
