"""Login name forms and HTTP Basic credential parsing."""

from __future__ import annotations

import base64

import pytest

from smtp_profile.accounts import Principal, Role, check_new_user, login_candidates
from smtp_profile.api.guards import basic_credentials
from smtp_profile.errors import InvalidField


@pytest.mark.parametrize(
    ("login", "expected"),
    [
        pytest.param("alice", ["alice"], id="bare"),
        pytest.param("CORP\\alice", ["CORP\\alice", "alice"], id="domain-backslash"),
        pytest.param("alice@corp.example", ["alice@corp.example", "alice"], id="upn"),
        pytest.param("A\\B\\alice", ["A\\B\\alice", "alice"], id="nested-backslash"),
        pytest.param("\\alice", ["\\alice", "alice"], id="empty-domain"),
        pytest.param("CORP\\", ["CORP\\"], id="empty-user-after-backslash"),
        pytest.param("@corp.example", ["@corp.example"], id="empty-user-before-at"),
        pytest.param("", [], id="empty"),
    ],
)
def test_login_candidates(login: str, expected: list[str]) -> None:
    assert login_candidates(login) == expected


@pytest.mark.parametrize("login", ["alice", "CORP\\alice", "alice@corp.example"])
def test_all_three_forms_reach_the_same_user(login: str) -> None:
    assert "alice" in login_candidates(login)


def test_login_as_typed_is_tried_first() -> None:
    assert login_candidates("ops@example.com")[0] == "ops@example.com"


def test_candidates_have_no_duplicates_or_empties() -> None:
    for login in ["a", "a@a", "a\\a", "\\", "@", "x\\y@z"]:
        found = login_candidates(login)
        assert len(found) == len(set(found))
        assert "" not in found


# ------------------------------------------------------------------- Principal


def test_only_admins_may_write() -> None:
    assert Principal("root", Role.ADMIN).may_write
    assert not Principal("viewer", Role.READER).may_write


@pytest.mark.parametrize(
    ("name", "password", "field"),
    [
        pytest.param("", "long-enough-password", "Name", id="empty-name"),
        pytest.param(" alice", "long-enough-password", "Name", id="outer-space"),
        pytest.param("ali\nce", "long-enough-password", "Name", id="newline"),
        pytest.param("alice", "short", "Password", id="short-password"),
    ],
)
def test_check_new_user_refuses(name: str, password: str, field: str) -> None:
    with pytest.raises(InvalidField) as caught:
        check_new_user(name, password)
    assert caught.value.field == field


def test_check_new_user_accepts_twelve_characters() -> None:
    check_new_user("alice", "x" * 12)


# ----------------------------------------------------------- basic_credentials


def _basic(raw: bytes, scheme: str = "Basic") -> str:
    return f"{scheme} {base64.b64encode(raw).decode('ascii')}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(_basic(b"alice:s3cret"), ("alice", "s3cret"), id="plain"),
        pytest.param(_basic(b"alice:s3cret", "basic"), ("alice", "s3cret"), id="lower-scheme"),
        pytest.param(_basic(b"alice:s3cret", "BASIC"), ("alice", "s3cret"), id="upper-scheme"),
        pytest.param(_basic(b"alice:pa:ss:word"), ("alice", "pa:ss:word"), id="colon-in-password"),
        pytest.param(_basic(b"alice:"), ("alice", ""), id="empty-password"),
        pytest.param(_basic(b"CORP\\alice:pw"), ("CORP\\alice", "pw"), id="domain-user"),
        pytest.param(_basic("jörg:пароль".encode()), ("jörg", "пароль"), id="utf8"),
        pytest.param(
            "Basic " + base64.b64encode(b"alice:pw").decode() + "  ",
            ("alice", "pw"),
            id="trailing-space",
        ),
    ],
)
def test_basic_credentials_accepted(header: str, expected: tuple[str, str]) -> None:
    assert basic_credentials(header) == expected


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(None, id="none"),
        pytest.param("", id="empty"),
        pytest.param("Basic", id="scheme-only"),
        pytest.param("Basic ", id="scheme-space"),
        pytest.param("Bearer abc.def.ghi", id="bearer"),
        pytest.param(_basic(b"alice:pw", "Digest"), id="digest"),
        pytest.param("Basic !!!not-base64!!!", id="not-base64"),
        pytest.param("Basic YWxpY2U6cHc", id="bad-padding"),
        pytest.param(_basic(b"alice"), id="no-colon"),
        pytest.param(_basic(b":pw"), id="empty-login"),
        pytest.param(_basic(b"\xff\xfe:pw"), id="not-utf8"),
    ],
)
def test_basic_credentials_refused(header: str | None) -> None:
    assert basic_credentials(header) is None
