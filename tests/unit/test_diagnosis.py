"""Reply classification and the hint catalogue (spec §6: the likely cause and the setting
to change)."""

from __future__ import annotations

import re

import pytest

from smtp_profile.mail.diagnosis import HINTS, Failure, Stage, classify_reply, hint_for

# What a hint may name so that the reader knows what to do.
SETTINGS = (
    "Host",
    "Port",
    "UseSSL",
    "RelayAuthenticationType",
    "RelayUsername",
    "RelayPassword",
    "SenderAccount",
    "SenderName",
    "TestRecipient",
    "SMTP_PROFILE_",
)
ACTIONS = re.compile(
    r"\b(check|set|use|turn|try|install|renew|enable|log in|ask|restore|contact|configure)\b",
    re.IGNORECASE,
)


def names_a_setting_or_action(text: str) -> bool:
    return any(setting in text for setting in SETTINGS) or ACTIONS.search(text) is not None


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize(
    "message", ["4.3.2 Service shutting down", "4.7.0 Too many connections, try later", ""]
)
def test_421_is_service_unavailable_at_any_stage(stage: Stage, message: str) -> None:
    assert classify_reply(stage, 421, message) is Failure.SERVICE_UNAVAILABLE


@pytest.mark.parametrize(
    ("stage", "code", "message", "expected"),
    [
        pytest.param(
            Stage.AUTH,
            535,
            "5.7.8 Error: authentication failed: UGFzc3dvcmQ6",
            Failure.AUTH_FAILED,
            id="535-auth",
        ),
        pytest.param(
            Stage.AUTH,
            535,
            "5.7.3 Authentication unsuccessful",
            Failure.AUTH_FAILED,
            id="535-exchange",
        ),
        pytest.param(
            Stage.AUTH,
            454,
            "4.7.0 Temporary authentication failure",
            Failure.AUTH_TEMPORARY,
            id="454-auth-temporary",
        ),
        pytest.param(
            Stage.AUTH,
            534,
            "5.7.9 Authentication mechanism is too weak",
            Failure.AUTH_NEEDS_ENCRYPTION,
            id="534-auth-weak",
        ),
        pytest.param(
            Stage.AUTH,
            538,
            "5.7.11 Encryption required for requested authentication mechanism",
            Failure.AUTH_NEEDS_ENCRYPTION,
            id="538-auth-encryption",
        ),
        pytest.param(
            Stage.MAIL,
            530,
            "5.7.0 Authentication required",
            Failure.AUTH_REQUIRED,
            id="530-mail",
        ),
        pytest.param(
            Stage.RCPT,
            530,
            "5.7.1 Client was not authenticated",
            Failure.AUTH_REQUIRED,
            id="530-rcpt",
        ),
        pytest.param(
            Stage.RCPT,
            554,
            "5.7.1 <ops@other.example>: Relay access denied",
            Failure.RELAY_DENIED,
            id="554-relay-access-denied",
        ),
        pytest.param(
            Stage.RCPT,
            550,
            "5.7.54 SMTP; Unable to relay recipient in non-accepted domain",
            Failure.RELAY_DENIED,
            id="550-exchange-unable-to-relay",
        ),
        pytest.param(
            Stage.RCPT,
            550,
            "5.1.1 <nobody@example.org>: Recipient address rejected: "
            "User unknown in local recipient table",
            Failure.RECIPIENT_REFUSED,
            id="550-user-unknown",
        ),
        pytest.param(
            Stage.RCPT,
            550,
            "5.1.1 Mailbox does not exist",
            Failure.RECIPIENT_REFUSED,
            id="550-no-mailbox",
        ),
        pytest.param(
            Stage.MAIL,
            553,
            "5.7.1 <x@example.com>: Sender address rejected: not owned by user",
            Failure.SENDER_REFUSED,
            id="553-sender",
        ),
        pytest.param(
            Stage.MAIL,
            550,
            "5.7.1 Client does not have permissions to send as this sender",
            Failure.SENDER_REFUSED,
            id="550-send-as",
        ),
        pytest.param(
            Stage.DATA,
            552,
            "5.3.4 Message size exceeds fixed limit",
            Failure.DATA_REFUSED,
            id="552-data",
        ),
        pytest.param(
            Stage.DATA,
            554,
            "5.7.1 Message rejected as spam",
            Failure.DATA_REFUSED,
            id="554-data",
        ),
        pytest.param(
            Stage.GREETING,
            554,
            "5.7.1 You are not allowed to connect",
            Failure.GREETING_REFUSED,
            id="554-greeting",
        ),
        pytest.param(
            Stage.EHLO,
            501,
            "5.5.4 Invalid EHLO hostname",
            Failure.EHLO_REFUSED,
            id="501-ehlo",
        ),
        pytest.param(
            Stage.TLS,
            454,
            "4.7.0 TLS not available due to local problem",
            Failure.STARTTLS_REFUSED,
            id="454-starttls",
        ),
    ],
)
def test_classify_reply(stage: Stage, code: int, message: str, expected: Failure) -> None:
    assert classify_reply(stage, code, message) is expected


@pytest.mark.parametrize("message", ["5.7.1 Relay access denied", "5.7.1 RELAY ACCESS DENIED"])
def test_relay_denial_is_matched_case_insensitively(message: str) -> None:
    assert classify_reply(Stage.RCPT, 554, message) is Failure.RELAY_DENIED


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(
            "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in relay "
            "recipient table",
            id="postfix-relay-recipient-table",
        ),
        pytest.param(
            "5.1.1 <nobody@relay.example.org>: Recipient address rejected: User unknown",
            id="relay-in-recipient-domain",
        ),
    ],
)
def test_unknown_recipient_is_not_mistaken_for_relay_denial(message: str) -> None:
    assert classify_reply(Stage.RCPT, 550, message) is Failure.RECIPIENT_REFUSED


def test_starttls_required_reply_points_to_use_ssl() -> None:
    failure = classify_reply(Stage.MAIL, 530, "5.7.0 Must issue a STARTTLS command first")
    assert "UseSSL" in hint_for(failure).text()


# ------------------------------------------------------------------------ hints


def test_every_failure_has_a_hint() -> None:
    assert set(HINTS) == set(Failure)


@pytest.mark.parametrize("failure", list(Failure))
def test_hint_has_a_cause_and_a_fix(failure: Failure) -> None:
    hint = hint_for(failure)
    assert hint.cause.strip()
    assert hint.fix.strip()
    assert hint.cause in hint.text()
    assert hint.fix in hint.text()


@pytest.mark.parametrize("failure", list(Failure))
def test_hint_fix_names_a_setting_or_an_action(failure: Failure) -> None:
    assert names_a_setting_or_action(hint_for(failure).fix), hint_for(failure).fix


@pytest.mark.parametrize(
    ("failure", "setting"),
    [
        pytest.param(Failure.AUTH_FAILED, "RelayPassword", id="auth-failed"),
        pytest.param(Failure.AUTH_REQUIRED, "RelayAuthenticationType", id="auth-required"),
        pytest.param(Failure.RELAY_DENIED, "RelayAuthenticationType", id="relay-denied"),
        pytest.param(Failure.RECIPIENT_REFUSED, "TestRecipient", id="recipient"),
        pytest.param(Failure.SENDER_REFUSED, "SenderAccount", id="sender"),
        pytest.param(Failure.STARTTLS_NOT_OFFERED, "UseSSL", id="starttls-missing"),
        pytest.param(Failure.UNKNOWN_HOST, "Host", id="unknown-host"),
        pytest.param(Failure.REFUSED, "Port", id="refused"),
        pytest.param(Failure.CERT_WRONG_NAME, "Host", id="cert-name"),
    ],
)
def test_hint_names_the_setting_that_fixes_it(failure: Failure, setting: str) -> None:
    assert setting in hint_for(failure).text()


def test_hints_are_distinct() -> None:
    texts = [hint_for(failure).text() for failure in Failure]
    assert len(set(texts)) == len(texts)
