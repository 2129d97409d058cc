"""Single-value rules of spec §2 and §7 (smtp_profile.rules) and their ErrorCodes."""

from __future__ import annotations

import itertools

import pytest

from smtp_profile import rules
from smtp_profile.errors import (
    FIELD_RULE_CODES,
    InvalidField,
    StoredPasswordNotReusable,
    entry_for,
)
from tests.unit.factories import CONTROL_CHARACTERS, ERROR_CODE, assert_invalid

# A 253-character FQDN made of valid labels (63 + 1 + 63 + 1 + 63 + 1 + 61).
NAME_253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
assert len(NAME_253) == 253


# --------------------------------------------------------------------------- Host


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("smtp.example.com", id="fqdn"),
        pytest.param("SMTP.Example.COM", id="fqdn-mixed-case"),
        pytest.param("smtp.example.com.", id="fqdn-trailing-dot"),
        pytest.param("mailrelay", id="single-label"),
        pytest.param("localhost", id="localhost"),
        pytest.param("mail-01.corp.example", id="hyphen-digits"),
        pytest.param("münchen.example", id="idn-unicode"),
        pytest.param("xn--mnchen-3ya.example", id="idn-punycode"),
        pytest.param("例子.广告", id="idn-cjk"),
        pytest.param("192.0.2.25", id="ipv4"),
        pytest.param("2001:db8::25", id="ipv6"),
        pytest.param("::1", id="ipv6-loopback"),
        pytest.param("[2001:db8::25]", id="ipv6-bracketed"),
        pytest.param(NAME_253, id="exactly-253-chars"),
    ],
)
def test_host_accepts_dns_names_and_ip_literals(host: str) -> None:
    assert rules.check_host("Host", host) == host


@pytest.mark.parametrize(
    ("host", "rule"),
    [
        pytest.param("smtp://smtp.example.com", "format", id="scheme-smtp"),
        pytest.param("https://smtp.example.com", "format", id="scheme-https"),
        pytest.param("smtp.example.com/relay", "format", id="path"),
        pytest.param("smtp.example.com\\relay", "format", id="backslash-path"),
        pytest.param("smtp.example.com:587", "format", id="port"),
        pytest.param("192.0.2.25:25", "format", id="ipv4-with-port"),
        pytest.param("[2001:db8::25]:25", "format", id="bracketed-ipv6-with-port"),
        pytest.param("smtp example.com", "format", id="inner-space"),
        pytest.param(" smtp.example.com", "format", id="leading-space"),
        pytest.param("smtp.example.com ", "format", id="trailing-space"),
        pytest.param("smtp..example.com", "format", id="empty-label"),
        pytest.param("-smtp.example.com", "format", id="label-leading-hyphen"),
        pytest.param("smtp-.example.com", "format", id="label-trailing-hyphen"),
        pytest.param("a" * 64 + ".example.com", "format", id="label-64-chars"),
        pytest.param("256.1.1.1", "format", id="bad-ipv4"),
        pytest.param("1.2.3", "format", id="numeric-tld"),
        pytest.param("smtp!.example.com", "format", id="punctuation"),
        pytest.param("user@smtp.example.com", "format", id="at-sign"),
        pytest.param(".", "format", id="only-dot"),
        pytest.param(NAME_253 + "e", "length", id="254-chars"),
        pytest.param("a." * 200 + "example", "length", id="far-too-long"),
    ],
)
def test_host_rejects(host: str, rule: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_host("Host", host)
    assert_invalid(caught.value, "Host", rule)


@pytest.mark.parametrize(
    ("name", "char"), CONTROL_CHARACTERS, ids=[c[0] for c in CONTROL_CHARACTERS]
)
def test_host_rejects_every_control_character(name: str, char: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_host("Host", f"smtp{char}.example.com")
    assert_invalid(caught.value, "Host", "control")


def test_connect_address_strips_brackets_of_ipv6_literal_only() -> None:
    assert rules.connect_address("[2001:db8::1]") == "2001:db8::1"
    assert rules.connect_address("2001:db8::1") == "2001:db8::1"
    assert rules.connect_address("smtp.example.com") == "smtp.example.com"


# ---------------------------------------------------------------- control chars


@pytest.mark.parametrize(
    ("name", "char"), CONTROL_CHARACTERS, ids=[c[0] for c in CONTROL_CHARACTERS]
)
def test_has_control_character_detects_each_class(name: str, char: str) -> None:
    assert rules.has_control_character(f"a{char}b")


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Jörg Müller", id="latin"),
        pytest.param("日本語", id="cjk"),
        pytest.param("a b", id="space"),
        pytest.param("\u00a0", id="nbsp-is-not-control"),
        pytest.param("", id="empty"),
    ],
)
def test_has_control_character_leaves_printable_text_alone(text: str) -> None:
    assert not rules.has_control_character(text)


# ------------------------------------------------------------------ Port and ints


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(25, 25, id="int"),
        pytest.param("25", 25, id="decimal-string"),
        pytest.param(25.0, 25, id="integral-float"),
        pytest.param("65535", 65535, id="max-string"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty-string"),
    ],
)
def test_coerce_int_accepts(value: object, expected: int | None) -> None:
    assert rules.coerce_int("Port", value) == expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("abc", id="letters"),
        pytest.param(1.5, id="fraction"),
        pytest.param(float("inf"), id="infinity"),
        pytest.param(float("nan"), id="nan"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param("2.5", id="fraction-string"),
        pytest.param("0x19", id="hex-string"),
        pytest.param(" 25", id="padded-string"),
        pytest.param([25], id="list"),
        pytest.param({"value": 25}, id="object"),
    ],
)
def test_coerce_int_rejects_wrong_types(value: object) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.coerce_int("Port", value)
    assert_invalid(caught.value, "Port", "type")


@pytest.mark.parametrize("port", [1, 25, 465, 587, 65535])
def test_check_port_accepts_range(port: int) -> None:
    assert rules.check_port("Port", port) == port


@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_check_port_rejects_out_of_range(port: int) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_port("Port", port)
    assert_invalid(caught.value, "Port", "range")


# ------------------------------------------------------------------------- bools


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param("true", True, id="str-true"),
        pytest.param("TRUE", True, id="str-TRUE"),
        pytest.param("True", True, id="str-True"),
        pytest.param("false", False, id="str-false"),
        pytest.param("FaLsE", False, id="str-FaLsE"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty"),
    ],
)
def test_coerce_bool_accepts(value: object, expected: bool | None) -> None:
    assert rules.coerce_bool("UseSSL", value) is expected


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1, id="one"),
        pytest.param(0, id="zero"),
        pytest.param("1", id="str-one"),
        pytest.param("yes", id="yes"),
        pytest.param("on", id="on"),
        pytest.param(" true", id="padded"),
        pytest.param(1.0, id="float"),
    ],
)
def test_coerce_bool_rejects(value: object) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.coerce_bool("UseSSL", value)
    assert_invalid(caught.value, "UseSSL", "type")


# ------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("x", "x", id="text"),
        pytest.param("", None, id="empty-means-unset"),
        pytest.param(None, None, id="null"),
    ],
)
def test_coerce_text(value: object, expected: str | None) -> None:
    assert rules.coerce_text("SenderName", value) == expected


@pytest.mark.parametrize("value", [1, 1.5, True, ["a"], {"a": 1}], ids=str)
def test_coerce_text_rejects_non_strings(value: object) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.coerce_text("SenderName", value)
    assert_invalid(caught.value, "SenderName", "type")


# ---------------------------------------------------------------------- address


@pytest.mark.parametrize(
    "address",
    [
        pytest.param("noreply@example.com", id="plain"),
        pytest.param("first.last+tag@mail.example.co.uk", id="dots-plus"),
        pytest.param("o'brien@example.com", id="apostrophe"),
        pytest.param("user@localhost", id="single-label-domain"),
        pytest.param("user@[192.0.2.1]", id="ipv4-literal"),
        pytest.param("user@[IPv6:2001:db8::1]", id="ipv6-literal"),
        pytest.param("jörg@münchen.example", id="intl-latin"),
        pytest.param("用户@例子.广告", id="intl-cjk"),
        pytest.param("noreply@xn--mnchen-3ya.example", id="punycode-domain"),
    ],
)
def test_address_accepts_bare_mailboxes(address: str) -> None:
    assert rules.check_address("SenderAccount", address) == address


@pytest.mark.parametrize(
    ("address", "rule"),
    [
        pytest.param("noreply", "format", id="missing-at"),
        pytest.param("noreply@", "format", id="missing-domain"),
        pytest.param("@example.com", "format", id="missing-local"),
        pytest.param("Alerts <noreply@example.com>", "format", id="display-name"),
        pytest.param("<noreply@example.com>", "format", id="angle-brackets"),
        pytest.param("a@example.com, b@example.com", "format", id="two-addresses"),
        pytest.param("a@example.com;b@example.com", "format", id="semicolon-list"),
        pytest.param("no reply@example.com", "format", id="space-in-local"),
        pytest.param("noreply@exa mple.com", "format", id="space-in-domain"),
        pytest.param("a..b@example.com", "format", id="double-dot"),
        pytest.param("a.@example.com", "format", id="dot-before-at"),
        pytest.param("a@@example.com", "format", id="double-at"),
        pytest.param("a@-example.com", "format", id="bad-domain-label"),
        pytest.param("a@[300.1.1.1]", "format", id="bad-address-literal"),
        pytest.param("x" * 310 + "@example.com", "length", id="too-long"),
    ],
)
def test_address_rejects(address: str, rule: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_address("SenderAccount", address)
    assert_invalid(caught.value, "SenderAccount", rule)


@pytest.mark.parametrize(
    ("name", "char"), CONTROL_CHARACTERS, ids=[c[0] for c in CONTROL_CHARACTERS]
)
@pytest.mark.parametrize("field", ["SenderAccount", "TestRecipient"])
def test_address_rejects_every_control_character(field: str, name: str, char: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_address(field, f"noreply{char}@example.com")
    assert_invalid(caught.value, field, "control")


# ------------------------------------------------------------------ display name


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Certificate Alerts", id="ascii"),
        pytest.param("Jörg Müller", id="latin"),
        pytest.param("証明書 通知", id="cjk"),
        pytest.param("Ops 🔐", id="emoji"),
        pytest.param('Doe, John "JD" (Ops)', id="specials"),
        pytest.param("x" * 255, id="255-chars"),
    ],
)
def test_display_name_accepts(name: str) -> None:
    assert rules.check_display_name("SenderName", name) == name


def test_display_name_rejects_256_chars() -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_display_name("SenderName", "x" * 256)
    assert_invalid(caught.value, "SenderName", "length")


@pytest.mark.parametrize(
    ("name", "char"), CONTROL_CHARACTERS, ids=[c[0] for c in CONTROL_CHARACTERS]
)
def test_display_name_rejects_every_control_character(name: str, char: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_display_name("SenderName", f"Alerts{char}Bcc: evil@example.com")
    assert_invalid(caught.value, "SenderName", "control")


# --------------------------------------------------------------------- username


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("CORP\\svc-mail", id="domain-backslash-user"),
        pytest.param("svc-mail@corp.example", id="upn"),
        pytest.param("svc-mail", id="bare-user"),
        pytest.param("jörg", id="unicode"),
    ],
)
def test_username_accepts_the_three_forms(username: str) -> None:
    assert rules.check_username("RelayUsername", username) == username


@pytest.mark.parametrize(
    ("name", "char"), CONTROL_CHARACTERS, ids=[c[0] for c in CONTROL_CHARACTERS]
)
def test_username_rejects_every_control_character(name: str, char: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_username("RelayUsername", f"CORP\\svc{char}mail")
    assert_invalid(caught.value, "RelayUsername", "control")


@pytest.mark.parametrize("username", [" svc", "svc ", " svc "])
def test_username_rejects_outer_spaces(username: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_username("RelayUsername", username)
    assert_invalid(caught.value, "RelayUsername", "format")


def test_username_rejects_overlong() -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_username("RelayUsername", "u" * (rules.MAX_USERNAME_LENGTH + 1))
    assert_invalid(caught.value, "RelayUsername", "length")


# --------------------------------------------------------------------- password


@pytest.mark.parametrize("password", ["a", "p@ss w0rd:;\"'\\", "пароль", "x" * 1024])
def test_password_accepts_any_single_line_text(password: str) -> None:
    assert rules.check_password("RelayPassword", password) == password


@pytest.mark.parametrize("bad", ["\x00", "\r", "\n"], ids=["NUL", "CR", "LF"])
def test_password_rejects_characters_that_break_sasl(bad: str) -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_password("RelayPassword", f"sec{bad}ret")
    assert_invalid(caught.value, "RelayPassword", "control")
    assert "sec" not in caught.value.message  # the message never quotes the password


def test_password_rejects_overlong() -> None:
    with pytest.raises(InvalidField) as caught:
        rules.check_password("RelayPassword", "x" * 1025)
    assert_invalid(caught.value, "RelayPassword", "length")


# -------------------------------------------------------------------- ErrorCodes

# One representative failure per rule, each produced by the real rule function.
RULE_FAILURES = {
    "type": lambda: rules.coerce_int("Port", "abc"),
    "range": lambda: rules.check_port("Port", 0),
    "format": lambda: rules.check_host("Host", "smtp://x"),
    "control": lambda: rules.check_host("Host", "a\nb"),
    "length": lambda: rules.check_display_name("SenderName", "x" * 256),
}


def _code_of(trigger: object) -> str:
    assert callable(trigger)
    with pytest.raises(InvalidField) as caught:
        trigger()
    return entry_for(caught.value).code


@pytest.mark.parametrize("rule", sorted(RULE_FAILURES))
def test_same_failure_always_gets_the_same_code(rule: str) -> None:
    first = _code_of(RULE_FAILURES[rule])
    second = _code_of(RULE_FAILURES[rule])
    assert first == second
    assert ERROR_CODE.match(first)


def test_same_rule_on_different_fields_shares_the_code_but_not_the_message() -> None:
    with pytest.raises(InvalidField) as host:
        rules.check_host("Host", "a\rb")
    with pytest.raises(InvalidField) as name:
        rules.check_display_name("SenderName", "a\rb")
    assert entry_for(host.value).code == entry_for(name.value).code
    assert "Host" in host.value.message
    assert "SenderName" in name.value.message


def test_codes_are_distinct_across_rules() -> None:
    codes = {rule: _code_of(trigger) for rule, trigger in RULE_FAILURES.items()}
    codes["stored-password"] = entry_for(StoredPasswordNotReusable("RelayPassword needed")).code
    for rule in ("required", "value"):
        codes[rule] = entry_for(InvalidField("Id", rule, "Id broke a rule")).code
    for (rule_a, code_a), (rule_b, code_b) in itertools.combinations(codes.items(), 2):
        assert code_a != code_b, f"{rule_a} and {rule_b} share {code_a}"
    assert all(ERROR_CODE.match(code) for code in codes.values())


@pytest.mark.parametrize("rule", sorted(FIELD_RULE_CODES))
def test_every_field_rule_code_is_well_formed_and_a_400(rule: str) -> None:
    entry = entry_for(InvalidField("Host", rule, "Host broke a rule."))
    assert entry.status == 400
    assert ERROR_CODE.match(entry.code)


def test_stored_password_not_reusable_is_a_400_on_relay_password() -> None:
    error = StoredPasswordNotReusable("RelayPassword is required.")
    assert error.field == "RelayPassword"
    entry = entry_for(error)
    assert entry.status == 400
    assert ERROR_CODE.match(entry.code)
