"""Type 1 with Kerberos: a real MIT KDC and a Postfix + Dovecot relay offering GSSAPI.

Marked ``relay``: it needs root and the Debian packages of
``tests/kerberos/install-debian-packages.sh``. If the KDC or the relay cannot start,
these tests fail.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.integrated import ServiceIdentity
from smtp_profile.mail.plan import Integrated, SendPlan
from smtp_profile.mail.sender import run_test
from tests.kerberos.conftest import (
    BLOCKED_PRINCIPAL,
    NTLM_LOGIN,
    SERVICE_PRINCIPAL,
    STALE_PRINCIPAL,
    Realm,
    tap_to,
)
from tests.kerberos.gssapi_relay import RunningGssapiRelay
from tests.kerberos.kdc import REALM, client_config
from tests.kerberos.wiretap import Wiretap
from tests.mail.helpers import (
    TEST_PATH,
    FakeResolver,
    api_with,
    assert_api_sent,
    assert_failed,
    assert_sent,
    client_lines,
    make_plan,
    request_body,
    server_lines,
)

pytestmark = pytest.mark.relay

LOCALHOST = FakeResolver({"localhost": ["127.0.0.1"]})  # the relay's principal is smtp/localhost


def plan_for(relay: RunningGssapiRelay, identity: ServiceIdentity, **options: object) -> SendPlan:
    values: dict[str, object] = {"host": "localhost", "login": Integrated(identity=identity)}
    values.update(options)
    return make_plan(relay.port, total=10.0, **values)  # type: ignore[arg-type]


def assert_nothing_sent(transcript: list[str]) -> None:
    assert not any(line.startswith(("AUTH", "MAIL")) for line in client_lines(transcript))


def assert_gssapi_redacted(transcript: list[str], tap: Wiretap | None = None) -> None:
    """AUTH GSSAPI, then AP-REQ, the empty answer to AP-REP and the security layer: all
    ``***``, as are the relay's three 334 lines (its first one is empty)."""
    sent, received = client_lines(transcript), server_lines(transcript)
    auth = sent.index("AUTH GSSAPI")
    assert sent[auth + 1 : auth + 4] == ["***"] * 3, sent
    assert [line for line in received if line.startswith("334")] == ["334 ***"] * 3
    if tap is not None:
        tokens = tap.tokens()
        assert len(tokens) >= 3  # AP-REQ, AP-REP, the wrapped security-layer messages
        text = "\n".join(transcript)
        for token in tokens:
            assert token not in text


async def test_kerberos_login_sends_the_message(
    krb5_env: Realm, gssapi_relay: RunningGssapiRelay, wiretaps: list[Wiretap]
) -> None:
    tap = await tap_to(wiretaps, gssapi_relay.port)
    plan = make_plan(
        tap.port,
        host="localhost",
        total=10.0,
        recipient="kerberos-login@example.test",
        login=Integrated(identity=krb5_env.identity()),
    )
    outcome = await run_test(plan, resolver=LOCALHOST)

    assert_sent(outcome)
    text = "\n".join(outcome.transcript)
    assert f"own identity: {SERVICE_PRINCIPAL} with GSSAPI (Kerberos)" in text
    assert "Kerberos: service ticket for smtp@localhost" in text
    assert_gssapi_redacted(outcome.transcript, tap)
    (message,) = gssapi_relay.wait_for_messages("kerberos-login@example.test")
    assert f"(Authenticated sender: {SERVICE_PRINCIPAL})" in str(message["Received"])


async def test_kerberos_from_a_ticket_cache_only(
    krb5_env: Realm, gssapi_relay: RunningGssapiRelay, tmp_path: Path
) -> None:
    """A ticket cache kept by something else (here kinit -k), no keytab for the service."""
    ccache = f"FILE:{tmp_path / 'krb5cc'}"
    kinit = shutil.which("kinit")
    assert kinit is not None, "kinit (krb5-user) is missing"
    subprocess.run(
        [kinit, "-k", "-t", str(krb5_env.service_keytab), "-c", ccache, SERVICE_PRINCIPAL],
        check=True,
        env={"KRB5_CONFIG": str(krb5_env.kdc.krb5_conf), "PATH": "/usr/bin:/bin"},
        timeout=10,
    )
    identity = ServiceIdentity(kerberos_ccache=ccache)
    outcome = await run_test(plan_for(gssapi_relay, identity), resolver=LOCALHOST)

    assert_sent(outcome)
    assert "the ticket cache's principal with GSSAPI" in "\n".join(outcome.transcript)


async def test_kerberos_is_preferred_over_ntlm(
    krb5_env: Realm, gssapi_relay: RunningGssapiRelay, tmp_path: Path
) -> None:
    identity = krb5_env.identity(ntlm_username=NTLM_LOGIN, ntlm_password_file=tmp_path / "pw")
    outcome = await run_test(plan_for(gssapi_relay, identity), resolver=LOCALHOST)

    assert_sent(outcome)
    assert "AUTH GSSAPI" in client_lines(outcome.transcript)


async def test_a_principal_the_relay_refuses_is_auth_failed(
    krb5_env: Realm, gssapi_relay: RunningGssapiRelay
) -> None:
    identity = krb5_env.identity(
        kerberos_principal=BLOCKED_PRINCIPAL, kerberos_keytab=krb5_env.blocked_keytab
    )
    outcome = await run_test(plan_for(gssapi_relay, identity), resolver=LOCALHOST)

    assert_failed(outcome, Stage.AUTH, Failure.AUTH_FAILED, 535)
    assert outcome.smtp_message is not None
    assert outcome.smtp_message.startswith("5.7.8 Error: authentication failed")


async def test_an_ip_address_has_no_relay_principal(
    krb5_env: Realm, gssapi_relay: RunningGssapiRelay
) -> None:
    outcome = await run_test(
        plan_for(gssapi_relay, krb5_env.identity(), host="127.0.0.1"), resolver=LOCALHOST
    )

    assert_failed(outcome, Stage.AUTH, Failure.KERBEROS_UNKNOWN_RELAY)
    assert f"smtp/127.0.0.1@{REALM} not found in Kerberos database" in outcome.detail
    assert "Set Host to the relay's host name as registered in Kerberos" in (outcome.hint or "")
    assert_nothing_sent(outcome.transcript)


async def test_an_unreachable_kdc(
    krb5_env: Realm,
    gssapi_relay: RunningGssapiRelay,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed = tmp_path / "krb5.conf"
    closed.write_text(client_config(_closed_port()))
    monkeypatch.setenv("KRB5_CONFIG", str(closed))
    # A keytab at a new path: its ticket cache is empty, so the KDC must be asked.
    identity = krb5_env.identity(kerberos_keytab=krb5_env.keytab_copy("unreachable.keytab"))
    outcome = await run_test(plan_for(gssapi_relay, identity), resolver=LOCALHOST)

    assert_failed(outcome, Stage.AUTH, Failure.KERBEROS_KDC_UNREACHABLE)
    assert "Cannot contact any KDC" in outcome.detail
    assert_nothing_sent(outcome.transcript)


@pytest.mark.parametrize(
    ("principal", "keytab", "reason"),
    [
        pytest.param(STALE_PRINCIPAL, "stale", "Decrypt integrity check failed", id="stale-key"),
        pytest.param(f"ghost@{REALM}", "service", "No credentials cache found", id="not-in-keytab"),
        pytest.param(SERVICE_PRINCIPAL, "missing", "cannot be read", id="no-keytab-file"),
    ],
)
async def test_no_ticket_for_the_service(
    krb5_env: Realm,
    gssapi_relay: RunningGssapiRelay,
    tmp_path: Path,
    principal: str,
    keytab: str,
    reason: str,
) -> None:
    path = {
        "stale": krb5_env.stale_keytab,
        "service": krb5_env.service_keytab,
        "missing": tmp_path / "missing.keytab",
    }[keytab]
    identity = krb5_env.identity(kerberos_principal=principal, kerberos_keytab=path)
    outcome = await run_test(plan_for(gssapi_relay, identity), resolver=LOCALHOST)

    assert_failed(outcome, Stage.AUTH, Failure.KERBEROS_NO_TICKET)
    assert reason in outcome.detail
    assert "SMTP_PROFILE_KERBEROS_KEYTAB" in (outcome.hint or "")
    assert_nothing_sent(outcome.transcript)


async def test_an_ntlm_identity_meets_a_gssapi_only_relay(
    krb5_env: Realm, gssapi_relay: RunningGssapiRelay, tmp_path: Path
) -> None:
    identity = ServiceIdentity(ntlm_username=NTLM_LOGIN, ntlm_password_file=tmp_path / "pw")
    outcome = await run_test(plan_for(gssapi_relay, identity), resolver=LOCALHOST)

    assert_failed(outcome, Stage.AUTH, Failure.NO_COMMON_MECHANISM)
    assert "offers GSSAPI; the service identity can use NTLM" in outcome.detail
    assert_nothing_sent(outcome.transcript)


async def test_api_type_1_with_kerberos(
    krb5_env: Realm,
    gssapi_relay: RunningGssapiRelay,
    tmp_path: Path,
    ca_file: Path,
    wiretaps: list[Wiretap],
) -> None:
    tap = await tap_to(wiretaps, gssapi_relay.port)
    async with api_with(
        tmp_path / "data",
        ca_file,
        resolver=LOCALHOST,
        test_timeout=10.0,
        kerberos_principal=SERVICE_PRINCIPAL,
        kerberos_keytab=krb5_env.keytab_copy("api.keytab"),
    ) as client:
        subject_to = "api-kerberos@example.test"
        response = await client.post(
            TEST_PATH,
            json={
                **request_body(tap.port, Host="localhost", RelayAuthenticationType=1),
                "TestRecipient": subject_to,
            },
        )

    body = assert_api_sent(response)
    assert_gssapi_redacted(body["Transcript"], tap)
    for token in tap.tokens():
        assert token not in response.text
    (message,) = gssapi_relay.wait_for_messages(subject_to)
    assert f"(Authenticated sender: {SERVICE_PRINCIPAL})" in str(message["Received"])


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
