"""Request validation (spec §2, §7), the password rule (§5) and the response view."""

from __future__ import annotations

import json

import idna
import pytest

from smtp_profile.errors import InvalidField, StoredPasswordNotReusable, entry_for
from smtp_profile.profile import (
    DEFAULT_SETTINGS,
    AuthType,
    ProfileRequest,
    ProfileSettings,
    parse_profile_request,
    parse_test_request,
    plan_password,
    profile_view,
    same_destination,
)
from smtp_profile.secret import Secret
from tests.unit.factories import (
    CONTROL_CHARACTERS,
    ERROR_CODE,
    REMOVE,
    assert_invalid,
    explicit_fields,
    profile_fields,
    send_fields,
)


def _try_parse(fields: dict[str, object]) -> InvalidField | None:
    try:
        parse_profile_request(fields)
    except InvalidField as error:
        return error
    return None


def _invalid(fields: dict[str, object]) -> InvalidField:
    with pytest.raises(InvalidField) as caught:
        parse_profile_request(fields)
    return caught.value


# ------------------------------------------------------------------ happy path


def test_valid_request_is_parsed_into_settings() -> None:
    request = parse_profile_request(explicit_fields())
    assert request.settings == ProfileSettings(
        host="smtp.example.com",
        port=587,
        auth_type=AuthType.EXPLICIT,
        username="CORP\\svc-mail",
        sender_account="noreply@example.com",
        sender_name="Certificate Alerts",
        use_ssl=True,
    )
    assert request.password == Secret("correct horse battery staple")


def test_optional_fields_take_their_defaults() -> None:
    request = parse_profile_request(
        profile_fields(Id=REMOVE, Port=REMOVE, RelayAuthenticationType=REMOVE, UseSSL=REMOVE)
    )
    assert request.settings.port == 25
    assert request.settings.auth_type is AuthType.ANONYMOUS
    assert request.settings.use_ssl is False
    assert request.settings.username is None
    assert request.password is None


# ------------------------------------------------------------------------- Host


@pytest.mark.parametrize(
    "host",
    ["smtp.example.com", "relay", "münchen.example", "192.0.2.7", "2001:db8::7", "[2001:db8::7]"],
    ids=["fqdn", "single-label", "idn", "ipv4", "ipv6", "ipv6-bracketed"],
)
def test_host_accepted(host: str) -> None:
    assert parse_profile_request(profile_fields(Host=host)).settings.host == host


@pytest.mark.parametrize(
    ("host", "rule"),
    [
        pytest.param(REMOVE, "required", id="absent"),
        pytest.param(None, "required", id="null"),
        pytest.param("", "required", id="empty"),
        pytest.param(25, "type", id="number"),
        pytest.param("smtp://smtp.example.com", "format", id="scheme"),
        pytest.param("smtp.example.com/x", "format", id="path"),
        pytest.param("smtp.example.com:25", "format", id="port"),
        pytest.param("smtp .example.com", "format", id="space"),
        pytest.param("smtp.example.com\r\n", "control", id="crlf"),
        pytest.param("smtp\x00.example.com", "control", id="nul"),
        pytest.param("a" * 254, "length", id="254-chars"),
    ],
)
def test_host_rejected(host: object, rule: str) -> None:
    assert_invalid(_invalid(profile_fields(Host=host)), "Host", rule)


# ------------------------------------------------------------------------- Port


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param(REMOVE, 25, id="absent"),
        pytest.param(None, 25, id="null"),
        pytest.param("", 25, id="empty-string"),
        pytest.param(25, 25, id="int"),
        pytest.param("25", 25, id="string"),
        pytest.param(25.0, 25, id="integral-float"),
        pytest.param(1, 1, id="min"),
        pytest.param(65535, 65535, id="max"),
        pytest.param("587", 587, id="submission-string"),
    ],
)
def test_port_accepted(port: object, expected: int) -> None:
    assert parse_profile_request(profile_fields(Port=port)).settings.port == expected


@pytest.mark.parametrize(
    ("port", "rule"),
    [
        pytest.param(0, "range", id="zero"),
        pytest.param(65536, "range", id="65536"),
        pytest.param(-1, "range", id="minus-one"),
        pytest.param("0", "range", id="zero-string"),
        pytest.param("abc", "type", id="letters"),
        pytest.param(1.5, "type", id="fraction"),
        pytest.param(True, "type", id="true"),
        pytest.param([25], "type", id="list"),
    ],
)
def test_port_rejected(port: object, rule: str) -> None:
    assert_invalid(_invalid(profile_fields(Port=port)), "Port", rule)


# ------------------------------------------------------ RelayAuthenticationType


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0, AuthType.ANONYMOUS, id="0"),
        pytest.param(1, AuthType.INTEGRATED, id="1"),
        pytest.param(2, AuthType.EXPLICIT, id="2"),
        pytest.param("2", AuthType.EXPLICIT, id="string-2"),
        pytest.param(None, AuthType.ANONYMOUS, id="null"),
        pytest.param(REMOVE, AuthType.ANONYMOUS, id="absent"),
    ],
)
def test_auth_type_accepted(value: object, expected: AuthType) -> None:
    fields = explicit_fields(RelayAuthenticationType=value)
    assert parse_profile_request(fields).settings.auth_type is expected


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param(3, "value", id="3"),
        pytest.param(-1, "value", id="minus-one"),
        pytest.param("3", "value", id="string-3"),
        pytest.param("x", "type", id="letters"),
        pytest.param(True, "type", id="true"),
        pytest.param(1.5, "type", id="fraction"),
    ],
)
def test_auth_type_rejected(value: object, rule: str) -> None:
    error = _invalid(explicit_fields(RelayAuthenticationType=value))
    assert_invalid(error, "RelayAuthenticationType", rule)


# ------------------------------------------------ RelayUsername / RelayPassword


@pytest.mark.parametrize(
    "username",
    ["CORP\\svc-mail", "svc-mail@corp.example", "svc-mail"],
    ids=["domain-backslash", "upn", "bare"],
)
def test_type_2_accepts_the_three_username_forms(username: str) -> None:
    request = parse_profile_request(explicit_fields(RelayUsername=username))
    assert request.settings.username == username


@pytest.mark.parametrize("username", [REMOVE, None, ""], ids=["absent", "null", "empty"])
def test_type_2_requires_username(username: object) -> None:
    assert_invalid(_invalid(explicit_fields(RelayUsername=username)), "RelayUsername", "required")


@pytest.mark.parametrize(
    ("name", "char"), CONTROL_CHARACTERS, ids=[c[0] for c in CONTROL_CHARACTERS]
)
def test_type_2_username_rejects_control_characters(name: str, char: str) -> None:
    error = _invalid(explicit_fields(RelayUsername=f"svc{char}mail"))
    assert_invalid(error, "RelayUsername", "control")


@pytest.mark.parametrize("password", [REMOVE, None, ""], ids=["absent", "null", "empty"])
def test_type_2_without_password_parses_to_no_password(password: object) -> None:
    """Whether the stored one may be used is plan_password's decision (§5)."""
    request = parse_profile_request(explicit_fields(RelayPassword=password))
    assert request.password is None


@pytest.mark.parametrize("bad", ["\x00", "\r", "\n"], ids=["NUL", "CR", "LF"])
def test_type_2_password_rejects_sasl_breaking_characters(bad: str) -> None:
    error = _invalid(explicit_fields(RelayPassword=f"pass{bad}word"))
    assert_invalid(error, "RelayPassword", "control")


@pytest.mark.parametrize("auth_type", [0, 1], ids=["anonymous", "integrated"])
def test_type_0_and_1_drop_username_and_password(auth_type: int) -> None:
    request = parse_profile_request(explicit_fields(RelayAuthenticationType=auth_type))
    assert request.settings.username is None
    assert request.password is None


@pytest.mark.parametrize("auth_type", [0, 1], ids=["anonymous", "integrated"])
def test_type_0_and_1_ignore_an_otherwise_invalid_username(auth_type: int) -> None:
    request = parse_profile_request(
        explicit_fields(RelayAuthenticationType=auth_type, RelayUsername=" spaced ")
    )
    assert request.settings.username is None


# ---------------------------------------------------------------- SenderAccount


@pytest.mark.parametrize(
    "account",
    ["noreply@example.com", "jörg@münchen.example", "用户@例子.广告", "a@[192.0.2.1]"],
    ids=["ascii", "intl-latin", "intl-cjk", "address-literal"],
)
def test_sender_account_accepted(account: str) -> None:
    request = parse_profile_request(profile_fields(SenderAccount=account))
    assert request.settings.sender_account == account


@pytest.mark.parametrize(
    ("account", "rule"),
    [
        pytest.param(REMOVE, "required", id="absent"),
        pytest.param("", "required", id="empty"),
        pytest.param("noreply.example.com", "format", id="missing-at"),
        pytest.param("Alerts <noreply@example.com>", "format", id="display-name"),
        pytest.param('"Alerts" noreply@example.com', "format", id="quoted-name-no-brackets"),
        pytest.param("noreply@example.com\r\nBcc: x@evil.example", "control", id="crlf"),
        pytest.param("noreply@example.com\n", "control", id="trailing-lf"),
    ],
)
def test_sender_account_rejected(account: object, rule: str) -> None:
    assert_invalid(_invalid(profile_fields(SenderAccount=account)), "SenderAccount", rule)


# ------------------------------------------------------------------- SenderName


@pytest.mark.parametrize(
    "name",
    ["Certificate Alerts", "Jörg Müller", "証明書の通知", 'Doe, John "JD" (Ops)', "n" * 255],
    ids=["ascii", "latin", "cjk", "specials", "255-chars"],
)
def test_sender_name_accepted(name: str) -> None:
    assert parse_profile_request(profile_fields(SenderName=name)).settings.sender_name == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        pytest.param(REMOVE, "required", id="absent"),
        pytest.param(None, "required", id="null"),
        pytest.param("", "required", id="empty"),
        pytest.param(7, "type", id="number"),
        pytest.param("Alerts\r\nBcc: x@evil.example", "control", id="crlf"),
        pytest.param("Alerts\x00", "control", id="nul"),
        pytest.param("Alerts\u2028", "control", id="line-separator"),
        pytest.param("Alerts\x85", "control", id="nel"),
        pytest.param("n" * 256, "length", id="256-chars"),
    ],
)
def test_sender_name_rejected(name: object, rule: str) -> None:
    assert_invalid(_invalid(profile_fields(SenderName=name)), "SenderName", rule)


LONE_SURROGATE_FIELDS = [
    pytest.param("SenderName", "Alerts \ud800", id="SenderName"),
    pytest.param("RelayUsername", "svc\udc00", id="RelayUsername"),
    pytest.param("RelayPassword", "pass\ud800word", id="RelayPassword"),
]


@pytest.mark.parametrize(("field", "value"), LONE_SURROGATE_FIELDS)
def test_lone_surrogates_from_json_escapes_are_rejected(field: str, value: str) -> None:
    body = json.dumps(explicit_fields(**{field: value}))  # ensure_ascii: "\ud800" escape
    assert "\\ud" in body
    fields = json.loads(body)
    assert fields[field] == value
    with pytest.raises(UnicodeEncodeError):
        value.encode("utf-8")  # why it must be refused: nothing downstream can send it
    error = _try_parse(fields)
    assert error is not None, f"{field} with a lone surrogate was accepted"
    assert error.field == field


# ------------------------------------------------------------------------ UseSSL


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param("TRUE", True, id="str-TRUE"),
        pytest.param("false", False, id="str-false"),
        pytest.param(None, False, id="null"),
        pytest.param(REMOVE, False, id="absent"),
    ],
)
def test_use_ssl_accepted(value: object, expected: bool) -> None:
    assert parse_profile_request(profile_fields(UseSSL=value)).settings.use_ssl is expected


@pytest.mark.parametrize("value", [1, 0, "yes", "1", "on"], ids=str)
def test_use_ssl_rejected(value: object) -> None:
    assert_invalid(_invalid(profile_fields(UseSSL=value)), "UseSSL", "type")


# ---------------------------------------------------------------------------- Id


@pytest.mark.parametrize(
    "value", [1, "1", 1.0, None, REMOVE], ids=["1", "str-1", "1.0", "null", "absent"]
)
def test_id_accepted(value: object) -> None:
    parse_profile_request(profile_fields(Id=value))


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        pytest.param(2, "value", id="2"),
        pytest.param("2", "value", id="str-2"),
        pytest.param(0, "value", id="0"),
        pytest.param("one", "type", id="letters"),
        pytest.param(True, "type", id="true"),
    ],
)
def test_id_rejected(value: object, rule: str) -> None:
    assert_invalid(_invalid(profile_fields(Id=value)), "Id", rule)


# ---------------------------------------------------------------- TestRecipient


def test_test_request_carries_profile_and_recipient() -> None:
    request = parse_test_request(send_fields())
    assert request.recipient == "ops@example.org"
    assert request.profile == parse_profile_request(profile_fields())


def test_test_request_accepts_id_1() -> None:
    assert parse_test_request(send_fields(Id="1")).recipient == "ops@example.org"


@pytest.mark.parametrize(
    ("recipient", "rule"),
    [
        pytest.param(REMOVE, "required", id="absent"),
        pytest.param(None, "required", id="null"),
        pytest.param("", "required", id="empty"),
        pytest.param("ops", "format", id="missing-at"),
        pytest.param("Ops <ops@example.org>", "format", id="display-name"),
        pytest.param("ops@example.org, b@example.org", "format", id="two-addresses"),
        pytest.param("ops@example.org\r\nRCPT TO:<x@evil.example>", "control", id="crlf"),
    ],
)
def test_test_recipient_rejected(recipient: object, rule: str) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_test_request(send_fields(TestRecipient=recipient))
    assert_invalid(caught.value, "TestRecipient", rule)


def test_test_request_validates_profile_fields_too() -> None:
    with pytest.raises(InvalidField) as caught:
        parse_test_request(send_fields(Id=2))
    assert_invalid(caught.value, "Id", "value")


# ----------------------------------------------------------------- password rule

STORED = ProfileSettings(
    host="smtp.example.com",
    port=587,
    auth_type=AuthType.EXPLICIT,
    username="CORP\\svc-mail",
    sender_account="noreply@example.com",
    sender_name="Certificate Alerts",
    use_ssl=True,
)


def _without_password(**overrides: object) -> ProfileRequest:
    return parse_profile_request(explicit_fields(RelayPassword=REMOVE, **overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="identical"),
        pytest.param({"Host": "SMTP.Example.COM"}, id="host-case-only"),
        pytest.param({"SenderName": "Other", "SenderAccount": "x@example.com"}, id="sender"),
        pytest.param({"UseSSL": False}, id="use-ssl"),
    ],
)
def test_missing_password_keeps_stored_when_destination_unchanged(
    overrides: dict[str, object],
) -> None:
    plan = plan_password(_without_password(**overrides), STORED, has_stored_password=True)
    assert plan.keep_stored is True
    assert plan.new_password is None
    assert plan.clears is False


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"Host": "smtp.attacker.example"}, id="host"),
        pytest.param({"Host": "192.0.2.10"}, id="host-ip"),
        pytest.param({"Port": 25}, id="port"),
        pytest.param({"RelayUsername": "CORP\\other"}, id="username"),
        pytest.param({"RelayUsername": "corp\\svc-mail"}, id="username-case"),
    ],
)
@pytest.mark.parametrize("password", [REMOVE, None, ""], ids=["absent", "null", "empty"])
def test_missing_password_with_changed_destination_is_refused(
    overrides: dict[str, object], password: object
) -> None:
    request = parse_profile_request(explicit_fields(RelayPassword=password, **overrides))
    with pytest.raises(StoredPasswordNotReusable) as caught:
        plan_password(request, STORED, has_stored_password=True)
    assert caught.value.field == "RelayPassword"
    assert "RelayPassword" in caught.value.message
    entry = entry_for(caught.value)
    assert entry.status == 400
    assert ERROR_CODE.match(entry.code)


def test_missing_password_without_a_stored_one_is_refused() -> None:
    with pytest.raises(StoredPasswordNotReusable):
        plan_password(_without_password(), STORED, has_stored_password=False)


@pytest.mark.parametrize("stored_type", [AuthType.ANONYMOUS, AuthType.INTEGRATED])
def test_missing_password_when_stored_profile_was_not_type_2_is_refused(
    stored_type: AuthType,
) -> None:
    stored = ProfileSettings(
        host=STORED.host, port=STORED.port, auth_type=stored_type, username=None
    )
    with pytest.raises(StoredPasswordNotReusable):
        plan_password(
            _without_password(RelayUsername="CORP\\svc-mail"), stored, has_stored_password=True
        )


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="same-destination"),
        pytest.param({"Host": "other.example"}, id="new-host"),
    ],
)
def test_new_password_replaces_the_stored_one(overrides: dict[str, object]) -> None:
    request = parse_profile_request(explicit_fields(RelayPassword="n3w-secret", **overrides))
    plan = plan_password(request, STORED, has_stored_password=True)
    assert plan.keep_stored is False
    assert plan.new_password == Secret("n3w-secret")
    assert plan.clears is False


@pytest.mark.parametrize("auth_type", [0, 1], ids=["anonymous", "integrated"])
@pytest.mark.parametrize("has_stored", [True, False], ids=["stored", "none-stored"])
def test_type_0_and_1_clear_the_password(auth_type: int, has_stored: bool) -> None:
    request = parse_profile_request(explicit_fields(RelayAuthenticationType=auth_type))
    plan = plan_password(request, STORED, has_stored_password=has_stored)
    assert plan.keep_stored is False
    assert plan.new_password is None
    assert plan.clears is True


def test_test_request_uses_the_same_password_rule() -> None:
    same = parse_test_request(send_fields(**explicit_fields(RelayPassword=REMOVE)))
    assert plan_password(same.profile, STORED, has_stored_password=True).keep_stored
    moved = parse_test_request(
        send_fields(**explicit_fields(RelayPassword=REMOVE, Host="mx.attacker.example"))
    )
    with pytest.raises(StoredPasswordNotReusable):
        plan_password(moved.profile, STORED, has_stored_password=True)


# ------------------------------------------------------------- same_destination


@pytest.mark.parametrize(
    ("change", "same"),
    [
        pytest.param({}, True, id="identical"),
        pytest.param({"host": "SMTP.EXAMPLE.COM"}, True, id="host-upper"),
        pytest.param({"sender_name": "x", "use_ssl": False}, True, id="non-destination"),
        pytest.param({"host": "smtp2.example.com"}, False, id="host"),
        pytest.param({"port": 465}, False, id="port"),
        pytest.param({"username": "CORP\\SVC-MAIL"}, False, id="username-is-exact"),
        pytest.param({"username": None}, False, id="username-removed"),
    ],
)
def test_same_destination(change: dict[str, object], same: bool) -> None:
    changed = ProfileSettings(**{**_settings_dict(STORED), **change})  # type: ignore[arg-type]
    assert same_destination(changed, STORED) is same
    assert same_destination(STORED, changed) is same


def _settings_dict(settings: ProfileSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in ProfileSettings.__slots__}


@pytest.mark.parametrize(
    ("stored_host", "new_host"),
    [
        pytest.param("straße.example", "strasse.example", id="sharp-s"),
        pytest.param("\u03c2.example", "\u03c3.example", id="final-sigma"),
    ],
)
def test_case_insensitive_host_compare_does_not_merge_distinct_idn_hosts(
    stored_host: str, new_host: str
) -> None:
    stored = ProfileSettings(**{**_settings_dict(STORED), "host": stored_host})  # type: ignore[arg-type]
    request = _without_password(Host=new_host)  # both are valid hosts
    assert request.settings.host == new_host
    assert idna.encode(stored_host, uts46=True) != idna.encode(new_host, uts46=True)
    assert not same_destination(request.settings, stored), "distinct hosts judged the same"


# ------------------------------------------------------------------ profile_view


def test_profile_view_has_exactly_the_pascal_case_fields_and_no_password() -> None:
    request = parse_profile_request(explicit_fields())
    view = profile_view(request.settings, has_password=True)
    assert set(view) == {
        "Id",
        "Host",
        "Port",
        "RelayAuthenticationType",
        "RelayUsername",
        "SenderAccount",
        "SenderName",
        "UseSSL",
        "HasPassword",
    }
    assert view["Id"] == 1
    assert view["Host"] == "smtp.example.com"
    assert view["Port"] == 587
    assert view["RelayAuthenticationType"] == 2
    assert type(view["RelayAuthenticationType"]) is int
    assert view["RelayUsername"] == "CORP\\svc-mail"
    assert view["UseSSL"] is True
    assert view["HasPassword"] is True
    assert "correct horse" not in json.dumps(view)


def test_profile_view_of_default_profile() -> None:
    view = profile_view(DEFAULT_SETTINGS, has_password=False)
    assert view == {
        "Id": 1,
        "Host": None,
        "Port": 25,
        "RelayAuthenticationType": 0,
        "RelayUsername": None,
        "SenderAccount": None,
        "SenderName": None,
        "UseSSL": False,
        "HasPassword": False,
    }


def test_profile_view_is_json_serialisable_round_trip() -> None:
    settings = parse_profile_request(profile_fields(SenderName="Jörg")).settings
    view = profile_view(settings, has_password=False)
    assert json.loads(json.dumps(view)) == view
    assert view["RelayUsername"] is None
