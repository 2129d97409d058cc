"""Rate limits (429 with Retry-After) and the egress policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtp_profile.egress import EgressPolicy, parse_networks
from smtp_profile.limits import SlidingWindow
from smtp_profile.mail.diagnosis import Failure, hint_for
from smtp_profile.runtime import open_runtime
from tests.api.test_contract import assert_error
from tests.conftest import ADMIN, add_users, api_client, make_settings, profile_body
from tests.support.smtpd import RunningSmtpd


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sliding_window_counts_and_expires() -> None:
    clock = FakeClock()
    window = SlidingWindow(limit=2, window=60, clock=clock)
    window.add("a")
    window.add("a")
    assert window.retry_after("a") == 60
    assert window.retry_after("b") == 0
    clock.now += 30
    assert window.retry_after("a") == 30
    clock.now += 30
    assert window.retry_after("a") == 0


async def test_tests_are_rate_limited_per_user(
    tmp_path: Path,
    ca_file: Path,
    smtpd: RunningSmtpd,
) -> None:
    runtime = open_runtime(make_settings(tmp_path / "d", ca_file=ca_file, test_rate_limit=2))
    add_users(runtime)
    body = {**profile_body(smtpd.port), "TestRecipient": "a@example.test"}
    async with api_client(runtime) as http:
        statuses = [
            (await http.post("/KeyfactorAPI/SMTP/Test", json=body)).status_code for _ in range(3)
        ]
        limited = await http.post("/KeyfactorAPI/SMTP/Test", json=body)
    runtime.close()
    assert statuses == [200, 200, 429]
    assert_error(limited, 429)
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert len(smtpd.handler.messages) == 2


async def test_failed_sign_ins_are_throttled_before_hashing(tmp_path: Path) -> None:
    runtime = open_runtime(make_settings(tmp_path / "d", signin_failure_limit=3))
    add_users(runtime)
    async with api_client(runtime, auth=("admin", "wrong-password-1")) as wrong:
        statuses = [(await wrong.get("/KeyfactorAPI/SMTP")).status_code for _ in range(4)]
    async with api_client(runtime, auth=ADMIN) as right:
        # the right password from the same address is refused too until the window passes
        locked = await right.get("/KeyfactorAPI/SMTP")
    runtime.close()
    assert statuses == [401, 401, 401, 429]
    assert locked.status_code == 429 and "retry-after" in locked.headers


@pytest.mark.parametrize(
    ("address", "port", "refused"),
    [
        ("169.254.169.254", 25, True),
        ("100.100.100.200", 25, True),
        ("fe80::1", 25, True),
        ("::ffff:169.254.169.254", 25, True),
        ("127.0.0.1", 25, False),
        ("192.0.2.10", 587, False),
    ],
)
def test_default_policy(address: str, port: int, refused: bool) -> None:
    assert (EgressPolicy().refusal(address, port) is not None) is refused


def test_allow_list_and_ports() -> None:
    policy = EgressPolicy(deny=(), allow=parse_networks(["10.0.0.0/8"]), ports={25, 587})
    assert policy.refusal("10.1.2.3", 587) is None
    assert policy.refusal("192.0.2.1", 587) is not None
    assert policy.refusal("10.1.2.3", 8080) is not None


async def test_egress_is_decided_on_the_resolved_address(tmp_path: Path) -> None:
    async def rebinding_resolver(host: str, port: int) -> list[str]:
        return ["169.254.169.254"]

    runtime = open_runtime(make_settings(tmp_path / "d"), resolver=rebinding_resolver)
    add_users(runtime)
    async with api_client(runtime) as http:
        response = await http.post(
            "/KeyfactorAPI/SMTP/Test",
            json={
                **profile_body(25, Host="innocent.example.test"),
                "TestRecipient": "a@example.test",
            },
        )
    runtime.close()
    assert response.status_code == 400
    body = response.json()
    assert (body["Stage"], body["Failure"]) == ("connect", "egress-denied")
    assert body["Hint"] == hint_for(Failure.EGRESS_DENIED).text()


async def test_egress_port_allow_list_blocks_a_port_scan(
    tmp_path: Path,
    smtpd: RunningSmtpd,
) -> None:
    runtime = open_runtime(make_settings(tmp_path / "d", egress_ports=frozenset({25, 587})))
    add_users(runtime)
    async with api_client(runtime) as http:
        response = await http.post(
            "/KeyfactorAPI/SMTP/Test",
            json={**profile_body(smtpd.port), "TestRecipient": "a@example.test"},
        )
    runtime.close()
    assert response.json()["Failure"] == "egress-denied"
    assert smtpd.connections == []


def test_invalid_egress_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from smtp_profile.errors import ConfigurationError
    from smtp_profile.settings import load_settings

    monkeypatch.setenv("SMTP_PROFILE_EGRESS_DENY", "10.0.0.0/8,not-a-network")
    with pytest.raises(ConfigurationError, match="SMTP_PROFILE_EGRESS_DENY"):
        load_settings()
    monkeypatch.setenv("SMTP_PROFILE_EGRESS_DENY", "10.0.0.0/8, 192.168.0.0/16")
    assert len(load_settings().egress_policy.deny) == 2
