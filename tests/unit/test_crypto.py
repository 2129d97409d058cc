"""Encryption at rest (spec §5): SecretBox and the key file."""

from __future__ import annotations

import base64
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from smtp_profile.crypto import SecretBox, generate_key, load_or_create_keys, read_keys
from smtp_profile.errors import ConfigurationError, SecretUnreadable
from smtp_profile.secret import Secret

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize(
    "plaintext",
    [PASSWORD, "p", "пароль 🔐", "x" * 1024, "with\ttab and : ; \" '"],
    ids=["ascii", "one-char", "unicode", "long", "punctuation"],
)
def test_round_trip(plaintext: str) -> None:
    box = SecretBox([generate_key()])
    assert box.decrypt(box.encrypt(Secret(plaintext))) == Secret(plaintext)


def test_token_does_not_contain_the_plaintext_in_any_obvious_form() -> None:
    token = SecretBox([generate_key()]).encrypt(Secret(PASSWORD))
    assert PASSWORD.encode() not in token
    assert base64.b64encode(PASSWORD.encode()) not in token
    assert base64.urlsafe_b64encode(PASSWORD.encode()) not in token
    assert PASSWORD.encode() not in base64.urlsafe_b64decode(token)


def test_two_encryptions_differ() -> None:
    box = SecretBox([generate_key()])
    assert box.encrypt(Secret(PASSWORD)) != box.encrypt(Secret(PASSWORD))


def test_token_from_another_key_is_unreadable_and_the_error_does_not_leak() -> None:
    token = SecretBox([generate_key()]).encrypt(Secret(PASSWORD))
    with pytest.raises(SecretUnreadable) as caught:
        SecretBox([generate_key()]).decrypt(token)
    assert PASSWORD not in str(caught.value)
    assert PASSWORD not in caught.value.message
    assert isinstance(caught.value, ConfigurationError)
    assert caught.value.__cause__ is None  # "from None": no chained Fernet internals


@pytest.mark.parametrize(
    "token",
    [b"", b"not a token", b"gAAAAA" + b"A" * 100],
    ids=["empty", "garbage", "fernet-shaped-garbage"],
)
def test_garbage_token_is_unreadable(token: bytes) -> None:
    with pytest.raises(SecretUnreadable):
        SecretBox([generate_key()]).decrypt(token)


def test_tampered_token_is_unreadable() -> None:
    box = SecretBox([generate_key()])
    token = bytearray(base64.urlsafe_b64decode(box.encrypt(Secret(PASSWORD))))
    token[-40] ^= 0x01  # flip one ciphertext bit: authenticated cipher must notice
    with pytest.raises(SecretUnreadable):
        box.decrypt(base64.urlsafe_b64encode(bytes(token)))


def test_rotate_re_encrypts_under_the_first_key() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt(Secret(PASSWORD))
    rotated = SecretBox([new, old]).rotate(token)
    assert rotated != token
    assert SecretBox([new]).decrypt(rotated) == Secret(PASSWORD)
    with pytest.raises(SecretUnreadable):
        SecretBox([old]).decrypt(rotated)


def test_all_keys_decrypt_but_only_the_first_encrypts() -> None:
    first, second = generate_key(), generate_key()
    box = SecretBox([first, second])
    assert box.decrypt(SecretBox([second]).encrypt(Secret("a"))) == Secret("a")
    assert SecretBox([first]).decrypt(box.encrypt(Secret("b"))) == Secret("b")


def test_rotate_of_unknown_token_is_unreadable() -> None:
    token = SecretBox([generate_key()]).encrypt(Secret(PASSWORD))
    with pytest.raises(SecretUnreadable) as caught:
        SecretBox([generate_key()]).rotate(token)
    assert PASSWORD not in str(caught.value)


def test_no_keys_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        SecretBox([])


# ---------------------------------------------------------------------- key file


def test_key_file_is_created_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret.key"
    keys = load_or_create_keys(path, create=True)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(keys) == 1
    Fernet(keys[0])  # a usable key
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret.key"]  # no temp left


def test_key_file_mode_is_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = tmp_path / "secret.key"
        load_or_create_keys(path, create=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_second_call_reuses_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    first = load_or_create_keys(path, create=True)
    content = path.read_bytes()
    second = load_or_create_keys(path, create=True)
    assert first == second
    assert path.read_bytes() == content
    token = SecretBox(first).encrypt(Secret(PASSWORD))
    assert SecretBox(second).decrypt(token) == Secret(PASSWORD)


def test_missing_file_without_create_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(ConfigurationError) as caught:
        load_or_create_keys(path, create=False)
    assert str(path) in caught.value.message
    assert not path.exists()


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"not-a-fernet-key\n", id="garbage"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\n\n  \n", id="blank-lines"),
        pytest.param(b"\xff\xfe\x00binary", id="binary"),
        pytest.param(base64.urlsafe_b64encode(b"k" * 16) + b"\n", id="short-key"),
    ],
)
def test_invalid_key_file_is_a_configuration_error_naming_the_file(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "secret.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(ConfigurationError) as caught:
        load_or_create_keys(path, create=True)
    assert str(path) in caught.value.message
    assert path.read_bytes() == content  # an operator's file is never overwritten


def test_second_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    path.write_bytes(generate_key() + b"\nbroken\n")
    path.chmod(0o600)
    with pytest.raises(ConfigurationError) as caught:
        read_keys(path)
    assert "Line 2" in caught.value.message
    assert str(path) in caught.value.message


def test_operator_key_file_with_several_keys_keeps_their_order(tmp_path: Path) -> None:
    keys = [generate_key(), generate_key()]
    path = tmp_path / "secret.key"
    path.write_bytes(b"\n".join(keys) + b"\n")
    path.chmod(0o600)
    assert load_or_create_keys(path, create=True) == keys


def test_key_file_readable_by_others_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secret.key"
    path.write_bytes(generate_key() + b"\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="smtp_profile.crypto"):
        read_keys(path)
    assert any("0600" in record.getMessage() for record in caplog.records)


def test_private_key_file_is_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "secret.key"
    load_or_create_keys(path, create=True)
    with caplog.at_level(logging.WARNING, logger="smtp_profile.crypto"):
        read_keys(path)
    assert not caplog.records
