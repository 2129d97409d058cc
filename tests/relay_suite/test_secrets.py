"""No password, AUTH payload or SASL blob in any transcript, response, audit record or
log line, for PLAIN, LOGIN and CRAM-MD5 against the real Postfix + Dovecot, whether
the login succeeds or fails."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.relay.bed import RunningBed
from tests.relay_suite.support import (
    RelayApi,
    TlsFront,
    assert_auth_redacted,
    assert_no_secret,
    context,
    cram_md5_forms,
    recipient,
    secret_forms,
)

pytestmark = pytest.mark.relay

WRONG = "Wr0ng-but-Secret-Passw0rd"


@pytest.mark.parametrize("succeeds", [True, False], ids=["success", "failure"])
@pytest.mark.parametrize(
    ("mechanism", "listener", "login"),
    [
        pytest.param("PLAIN", "submission_port", "alice", id="PLAIN-starttls"),
        pytest.param("PLAIN", "smtps_port", "dave", id="PLAIN-implicit-non-ascii"),
        pytest.param("LOGIN", "front", "CORP\\bob", id="LOGIN"),
        pytest.param("CRAM-MD5", "cram_port", "carol@example.test", id="CRAM-MD5"),
    ],
)
async def test_no_secret_leaks(
    open_api: Any,
    relay_bed: RunningBed,
    login_front: TlsFront,
    caplog: pytest.LogCaptureFixture,
    mechanism: str,
    listener: str,
    login: str,
    succeeds: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    port = login_front.port if listener == "front" else getattr(relay_bed, listener)
    api: RelayApi = await open_api(
        implicit_tls_ports=frozenset({relay_bed.smtps_port, login_front.port})
    )
    password = relay_bed.user(login).password if succeeds else WRONG
    to = recipient("secret")
    response = await api.test(
        port,
        to,
        Host="localhost",
        UseSSL=True,
        RelayAuthenticationType=2,
        RelayUsername=login,
        RelayPassword=password,
    )
    body: dict[str, Any] = response.json()
    assert (response.status_code == 200) is succeeds, context(body)
    if not succeeds:
        assert (body["Stage"], body["Failure"], body["SmtpCode"]) == ("auth", "auth-failed", 535)
    assert any(f"authenticating as {login} with {mechanism}" in x for x in body["Transcript"])
    assert_auth_redacted(body["Transcript"])

    forms = {
        **secret_forms(login, password),
        **cram_md5_forms(login, password, body["Transcript"]),
    }
    if mechanism == "CRAM-MD5":
        assert any(name.startswith("CRAM-MD5 response") for name in forms), context(body)
    assert_no_secret(response.text, forms, "the Test response")
    assert_no_secret(json.dumps(body, ensure_ascii=False), forms, "the decoded Test response")

    audit = await api.http.get("/KeyfactorAPI/Audit")
    assert audit.status_code == 200, audit.text
    assert to in audit.text  # the Test was recorded ...
    assert_no_secret(audit.text, forms, "the audit trail")  # ... without the secret
    assert_no_secret(caplog.text, forms, "the service's log")

    if succeeds:
        (message,) = relay_bed.wait_for_messages(to, timeout=10.0)
        assert_no_secret(message.as_string(), forms, "the delivered message")
    else:
        assert relay_bed.messages(to) == []
