"""The session cookie's format: signed, and nothing in it can be changed."""

from __future__ import annotations

import base64
import json

import pytest

from smtp_profile.accounts import Role
from smtp_profile.web.sessions import Session, SessionCodec, cleared_cookie, session_cookie

KEY = b"k" * 32
SESSION = Session(user="admin", role=Role.ADMIN, issued_at=1_800_000_000.5, csrf_token="t" * 43)


def test_round_trip() -> None:
    codec = SessionCodec(KEY)
    assert codec.decode(codec.encode(SESSION)) == SESSION


def test_csrf_token_is_not_in_the_repr() -> None:
    assert "t" * 43 not in repr(SESSION)


def test_another_key_refuses_the_cookie() -> None:
    value = SessionCodec(KEY).encode(SESSION)
    assert SessionCodec(b"x" * 32).decode(value) is None


def test_a_changed_payload_is_refused() -> None:
    codec = SessionCodec(KEY)
    reader = Session(user="reader", role=Role.READER, issued_at=1.0, csrf_token="c" * 43)
    prefix, body, signature = codec.encode(reader).split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    assert codec.decode(f"{prefix}.{forged}.{signature}") is None


@pytest.mark.parametrize(
    "value",
    ["", "abc", "v1.", "v1..", "v2.e30.AAAA", "v1.e30.AAAA", "v1.%%%.x", "v1.é.x", "..."],
)
def test_garbage_is_refused(value: str) -> None:
    assert SessionCodec(KEY).decode(value) is None


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SessionCodec(b"short")


def test_cookie_attributes() -> None:
    cookie = session_cookie("v", max_age=3600, secure=False)
    assert cookie == "smtp_profile_session=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict"
    assert session_cookie("v", max_age=1, secure=True).endswith("; Secure")
    assert "Max-Age=0" in cleared_cookie(secure=False)
