"""Secret objects on the wire (API version 2): parsing and showing. Pure."""

from __future__ import annotations

import pytest

from smtp_profile.errors import DuplicateProperty, InvalidField
from smtp_profile.secret import Secret
from smtp_profile.secretref import OMITTED, SecretRef, parse_secret, secret_view
from smtp_profile.wire import decode_body

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        {},
        {"SecretValue": None},
        {"SecretValue": ""},
        {"Provider": None, "Parameters": None},
    ],
)
def test_left_out(raw: object) -> None:
    assert parse_secret("RelayPassword", raw) == OMITTED


@pytest.mark.parametrize("raw", ["pw", {"SecretValue": "pw"}, {"secretvalue": "pw", "Extra": 1}])
def test_values(raw: object) -> None:
    assert parse_secret("RelayPassword", raw).value == Secret("pw")


@pytest.mark.parametrize(
    ("provider", "kind", "number"),
    [
        (1, "environment", 1),
        ("1", "environment", 1),
        (1.0, "environment", 1),
        ("Environment", "environment", 1),
        ("env", "environment", 1),
        ("FILE", "file", 2),
        (3, "command", 3),
    ],
)
def test_providers(provider: object, kind: str, number: int) -> None:
    parameter = {"environment": "Name", "file": "Path", "command": "Name"}[kind]
    spec = parse_secret(
        "RelayPassword", {"Provider": provider, "Parameters": {parameter.lower(): "x"}}
    )
    assert spec.ref == SecretRef(kind, ((parameter, "x"),))
    assert spec.ref.as_json() == {"Provider": number, "Parameters": {parameter: "x"}}
    assert SecretRef.loads(spec.ref.dumps()) == spec.ref


def test_unknown_provider_is_kept_to_be_refused_later() -> None:
    spec = parse_secret("ClientSecret", {"Provider": "vault", "Parameters": {"Path": "kv/x"}})
    assert spec.ref is not None and spec.ref.kind is None


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        (7, "type"),
        ([], "type"),
        ({"SecretValue": 7}, "type"),
        ({"Provider": True}, "type"),
        ({"Provider": 1.5}, "type"),
        ({"Provider": 1, "Parameters": "Name=x"}, "type"),
        ({"Provider": 1}, "required"),
        ({"Provider": 1, "Parameters": {"Name": ""}}, "required"),
        ({"Provider": 2, "Parameters": {"Path": "/x\n"}}, "control"),
        ({"Provider": 2, "Parameters": {"Path": "/" + "x" * 5000}}, "length"),
        ({"SecretValue": "x", "Provider": 1, "Parameters": {"Name": "A"}}, "value"),
        ({"Parameters": {"Name": "A"}}, "value"),
    ],
)
def test_refused(raw: object, rule: str) -> None:
    with pytest.raises(InvalidField) as caught:
        parse_secret("RelayPassword", raw)
    assert (caught.value.field, caught.value.rule) == ("RelayPassword", rule)
    assert "RelayPassword" in caught.value.message


def test_views_never_carry_a_value() -> None:
    assert secret_view(False, None) is None
    assert secret_view(True, None) == {"SecretValue": None, "Provider": None, "Parameters": None}
    ref = SecretRef("file", (("Path", "/run/x"),))
    assert secret_view(True, ref) == {
        "SecretValue": None,
        "Provider": 2,
        "Parameters": {"Path": "/run/x"},
    }


def test_json_duplicates_inside_a_secret_object() -> None:
    fields = decode_body(
        "application/json",
        b'{"RelayPassword": {"Provider": 1, "provider": 2}}',
        known=("RelayPassword",),
    )
    with pytest.raises(DuplicateProperty):
        parse_secret("RelayPassword", fields["RelayPassword"])


def test_dotted_form_names_nest() -> None:
    body = b"RelayPassword.Provider=2&relaypassword.PARAMETERS.path=%2Frun%2Fx&Host=h"
    fields = decode_body(FORM, body, known=("Host", "RelayPassword"), nested=True)
    spec = parse_secret("RelayPassword", fields["RelayPassword"])
    assert spec.ref == SecretRef("file", (("Path", "/run/x"),)) and fields["Host"] == "h"


@pytest.mark.parametrize(
    "body",
    [b"RelayPassword=x&RelayPassword.SecretValue=y", b"A.B=1&a.b=2&RelayPassword=x"],
)
def test_dotted_form_names_given_twice(body: bytes) -> None:
    with pytest.raises(DuplicateProperty):
        fields = decode_body(FORM, body, known=("RelayPassword", "A"), nested=True)
        parse_secret("A", fields.get("A"))


def test_version_1_forms_do_not_nest() -> None:
    fields = decode_body(
        FORM, b"RelayPassword.SecretValue=y&Host=h", known=("Host", "RelayPassword")
    )
    assert fields == {"Host": "h"}
