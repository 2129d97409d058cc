"""Body decoding (spec §3): JSON and form bodies, case-insensitive names, errors."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_profile.errors import (
    DuplicateProperty,
    InvalidField,
    MalformedBody,
    UnsupportedMediaType,
    entry_for,
)
from smtp_profile.profile import PROFILE_FIELDS, TEST_FIELDS, ProfileRequest, parse_profile_request
from smtp_profile.wire import decode_body
from tests.unit.factories import ERROR_CODE

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _decode(
    body: bytes, content_type: str | None = JSON, *, allow_form: bool = True
) -> dict[str, object]:
    return decode_body(content_type, body, known=TEST_FIELDS, allow_form=allow_form)


# ---------------------------------------------------------------- content types


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("application/json", id="json"),
        pytest.param("application/json; charset=utf-8", id="json-charset"),
        pytest.param("Application/JSON;charset=UTF-8", id="json-mixed-case"),
        pytest.param("text/json", id="text-json"),
        pytest.param("application/problem+json", id="problem-json"),
        pytest.param("application/vnd.keyfactor+json; charset=utf-8", id="vendor-json"),
    ],
)
def test_json_content_types_are_accepted(content_type: str) -> None:
    assert _decode(b'{"Host": "smtp.example.com"}', content_type) == {"Host": "smtp.example.com"}


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param(FORM, id="form"),
        pytest.param(FORM + "; charset=utf-8", id="form-charset"),
    ],
)
def test_form_content_type_is_accepted(content_type: str) -> None:
    assert _decode(b"Host=smtp.example.com&Port=25", content_type) == {
        "Host": "smtp.example.com",
        "Port": "25",
    }


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param("text/plain", id="text-plain"),
        pytest.param("application/xml", id="xml"),
        pytest.param("multipart/form-data; boundary=x", id="multipart"),
        pytest.param("text/plain+json", id="text-plus-json"),
        pytest.param(None, id="missing"),
        pytest.param("", id="empty"),
    ],
)
def test_unsupported_content_types_are_refused(content_type: str | None) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        _decode(b'{"Host": "smtp.example.com"}', content_type)
    assert entry_for(caught.value).status == 415
    assert ERROR_CODE.match(entry_for(caught.value).code)


def test_form_is_refused_where_not_allowed() -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        _decode(b"Host=smtp.example.com", FORM, allow_form=False)
    assert "application/json" in caught.value.message


def test_json_is_still_accepted_where_form_is_not() -> None:
    assert _decode(b'{"Host": "h"}', JSON, allow_form=False) == {"Host": "h"}


# -------------------------------------------------------------- property names


@pytest.mark.parametrize("key", ["Host", "host", "HOST", "hOsT"])
def test_json_property_names_are_case_insensitive(key: str) -> None:
    assert _decode(json.dumps({key: "smtp.example.com"}).encode()) == {"Host": "smtp.example.com"}


@pytest.mark.parametrize("key", ["UseSSL", "useSSL", "usessl", "useSsl"])
def test_use_ssl_name_variants(key: str) -> None:
    assert _decode(json.dumps({key: True}).encode()) == {"UseSSL": True}


@pytest.mark.parametrize("key", ["testRecipient", "TESTRECIPIENT"])
def test_form_property_names_are_case_insensitive(key: str) -> None:
    assert _decode(f"{key}=ops%40example.org".encode(), FORM) == {
        "TestRecipient": "ops@example.org"
    }


def test_unknown_properties_are_ignored() -> None:
    body = {"Host": "h", "Extra": 1, "Nested": {"Host": "x"}, "HasPassword": True}
    assert _decode(json.dumps(body).encode()) == {"Host": "h"}


def test_known_list_limits_the_fields() -> None:
    body = b'{"Host": "h", "TestRecipient": "ops@example.org"}'
    assert decode_body(JSON, body, known=PROFILE_FIELDS) == {"Host": "h"}


def test_nested_objects_with_the_same_keys_do_not_clash() -> None:
    body = b'{"Extra": {"Host": "inner", "host": "inner2"}, "Host": "outer"}'
    assert _decode(body) == {"Host": "outer"}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"Host": "a", "host": "b"}', id="json-different-case"),
        pytest.param(b'{"Host": "a", "Host": "b"}', id="json-same-case"),
        pytest.param(b'{"UseSSL": true, "useSSL": true}', id="json-same-value"),
        pytest.param(b'{"Extra": 1, "EXTRA": 2}', id="json-unknown-property"),
    ],
)
def test_property_given_twice_is_refused(body: bytes) -> None:
    with pytest.raises(DuplicateProperty) as caught:
        _decode(body)
    assert entry_for(caught.value).status == 400


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"Host=a&Host=b", id="form-repeated-key"),
        pytest.param(b"Host=a&HOST=b", id="form-different-case"),
        pytest.param(b"Port=25&port=", id="form-second-empty"),
    ],
)
def test_form_key_given_twice_is_refused(body: bytes) -> None:
    with pytest.raises(DuplicateProperty):
        _decode(body, FORM)


def test_duplicate_error_names_the_property() -> None:
    with pytest.raises(DuplicateProperty) as caught:
        _decode(b'{"SenderName": "a", "senderName": "b"}')
    assert "senderName" in caught.value.message or "SenderName" in caught.value.message


# ----------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{", id="truncated"),
        pytest.param(b"{'Host': 'a'}", id="single-quotes"),
        pytest.param(b'{"Host": "a",}', id="trailing-comma"),
        pytest.param(b'["Host", "a"]', id="array"),
        pytest.param(b'[{"Host": "a"}]', id="array-of-object"),
        pytest.param(b'"Host"', id="string"),
        pytest.param(b"25", id="number"),
        pytest.param(b"null", id="null"),
        pytest.param(b"true", id="bool"),
        pytest.param(b'{"Port": NaN}', id="nan"),
        pytest.param(b'{"Port": Infinity}', id="infinity"),
        pytest.param(b'{"Port": -Infinity}', id="minus-infinity"),
        pytest.param(b'{"Host": "\xff"}', id="invalid-utf8"),
        pytest.param(b"", id="empty"),
        pytest.param(b"   \r\n", id="whitespace-only"),
        pytest.param(b'{"Host": "a"} {"Host": "b"}', id="two-documents"),
    ],
)
def test_malformed_json_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedBody) as caught:
        _decode(body)
    entry = entry_for(caught.value)
    assert entry.status == 400
    assert ERROR_CODE.match(entry.code)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param("SenderName=Jörg".encode(), id="raw-non-ascii"),
        pytest.param(b"SenderName=%FF", id="percent-invalid-utf8"),
    ],
)
def test_malformed_form_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedBody):
        _decode(body, FORM)


def test_json_with_utf8_bom_is_accepted() -> None:
    assert _decode(b'\xef\xbb\xbf{"Host": "h"}') == {"Host": "h"}


def test_json_values_keep_their_types() -> None:
    body = b'{"Port": 25, "UseSSL": false, "RelayUsername": null, "SenderName": "J\\u00f6rg"}'
    assert _decode(body) == {
        "Port": 25,
        "UseSSL": False,
        "RelayUsername": None,
        "SenderName": "Jörg",
    }


def test_form_values_are_percent_decoded_strings() -> None:
    body = b"SenderName=J%C3%B6rg+M%C3%BCller&RelayUsername=CORP%5Csvc&RelayPassword=a%26b%3Dc"
    assert _decode(body, FORM) == {
        "SenderName": "Jörg Müller",
        "RelayUsername": "CORP\\svc",
        "RelayPassword": "a&b=c",
    }


def test_form_key_without_value_is_empty() -> None:
    assert _decode(b"RelayUsername&Port=", FORM) == {"RelayUsername": "", "Port": ""}


# ------------------------------------------- JSON, camelCase JSON and form agree

PASCAL = {
    "Id": 1,
    "Host": "smtp.example.com",
    "Port": 587,
    "RelayAuthenticationType": 2,
    "RelayUsername": "CORP\\svc-mail",
    "RelayPassword": "p@ss w0rd&=+%",
    "SenderAccount": "noreply@example.com",
    "SenderName": "Müller, Jörg (PKI)",
    "UseSSL": True,
}


def _camel(name: str) -> str:
    return "useSSL" if name == "UseSSL" else name[0].lower() + name[1:]


def _form_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _three_encodings(body: dict[str, object]) -> list[tuple[str, bytes]]:
    camel = {_camel(key): value for key, value in body.items()}
    form = urlencode({key: _form_value(value) for key, value in body.items()})
    return [
        (JSON, json.dumps(body).encode()),
        (JSON + "; charset=utf-8", json.dumps(camel, ensure_ascii=False).encode()),
        (FORM, form.encode("ascii")),
    ]


def _parse(content_type: str, body: bytes) -> ProfileRequest | tuple[str, str]:
    try:
        return parse_profile_request(decode_body(content_type, body, known=PROFILE_FIELDS))
    except InvalidField as error:
        return (error.field, error.rule)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(PASCAL, id="explicit"),
        pytest.param(
            {**PASCAL, "RelayAuthenticationType": 0, "UseSSL": False, "Port": None},
            id="anonymous-null-port",
        ),
        pytest.param({**PASCAL, "RelayPassword": None}, id="null-password"),
        pytest.param({**PASCAL, "RelayUsername": None}, id="missing-username-fails-alike"),
        pytest.param({**PASCAL, "Port": 0}, id="bad-port-fails-alike"),
    ],
)
def test_json_camel_case_json_and_form_give_the_same_request(body: dict[str, object]) -> None:
    results = [_parse(content_type, raw) for content_type, raw in _three_encodings(body)]
    assert results[0] == results[1] == results[2]


def test_three_encodings_of_the_explicit_profile_parse_to_the_expected_values() -> None:
    content_type, raw = _three_encodings(PASCAL)[2]
    request = _parse(content_type, raw)
    assert isinstance(request, ProfileRequest)
    assert request.settings.port == 587
    assert request.settings.use_ssl is True
    assert request.settings.username == "CORP\\svc-mail"
    assert request.settings.sender_name == "Müller, Jörg (PKI)"
    assert request.password is not None
    assert request.password.reveal() == "p@ss w0rd&=+%"


_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=12,
)
_bodies = st.fixed_dictionaries(
    {
        "Host": st.one_of(st.sampled_from(["smtp.example.com", "relay", "192.0.2.1"]), _text),
        "Port": st.one_of(st.none(), st.integers(min_value=-5, max_value=70000)),
        "RelayAuthenticationType": st.one_of(st.none(), st.integers(min_value=-1, max_value=3)),
        "RelayUsername": st.one_of(st.none(), st.just("CORP\\svc"), _text),
        "RelayPassword": st.one_of(st.none(), _text),
        "SenderAccount": st.one_of(st.just("noreply@example.com"), _text),
        "SenderName": st.one_of(st.just("Alerts"), _text),
        "UseSSL": st.one_of(st.none(), st.booleans()),
    },
    optional={"Id": st.one_of(st.none(), st.integers(min_value=0, max_value=2))},
)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(body=_bodies)
def test_property_the_three_encodings_always_agree(body: dict[str, object]) -> None:
    results = [_parse(content_type, raw) for content_type, raw in _three_encodings(body)]
    assert results[0] == results[1] == results[2]
