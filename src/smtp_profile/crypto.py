"""Encryption of stored secrets under keys that live outside the database.

Fernet (AES-CBC + HMAC-SHA256, from ``cryptography``) is an authenticated
cipher; ``MultiFernet`` lets several keys coexist so a key can be rotated
without downtime: the first key encrypts, every key may decrypt.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from smtp_profile.errors import ConfigurationError, SecretUnreadable
from smtp_profile.secret import Secret

log = logging.getLogger(__name__)


class SecretBox:
    """Encrypts and decrypts secrets; knows nothing about where keys come from."""

    def __init__(
        self, keys: list[bytes], *, reload: Callable[[], list[bytes]] | None = None
    ) -> None:
        """``reload`` re-reads the keys when a token does not decrypt: another process
        may have rotated the key file since this one started."""
        self._reload = reload
        self._use(keys)

    def _use(self, keys: list[bytes]) -> None:
        if not keys:
            raise ConfigurationError("No encryption key is configured.")
        self._keys = list(keys)
        self._primary = keys[0]
        self._fernet = MultiFernet([Fernet(key) for key in keys])

    @property
    def keys(self) -> list[bytes]:
        return list(self._keys)

    def derive_key(self, purpose: str, length: int = 32) -> bytes:
        """A key for another use (e.g. signing cookies), derived from the primary key.

        Every instance sharing the key file derives the same value.
        """
        kdf = HKDF(
            algorithm=hashes.SHA256(),
            length=length,
            salt=None,
            info=f"smtp-profile/{purpose}".encode(),
        )
        return kdf.derive(self._primary)

    def encrypt(self, secret: Secret) -> bytes:
        return self._fernet.encrypt(secret.reveal().encode("utf-8"))

    def decrypt(self, token: bytes) -> Secret:
        try:
            return Secret(self._fernet.decrypt(token).decode("utf-8"))
        except InvalidToken:
            if self._reload is not None and (fresh := self._reload()) != self._keys:
                self._use(fresh)
                return self.decrypt(token)
            raise SecretUnreadable(
                "A stored secret cannot be decrypted with the configured key file: "
                "the key is wrong or missing. Restore the right key "
                "(SMTP_PROFILE_SECRET_KEY_FILE); the service does not reset secrets."
            ) from None

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt ``token`` under the primary (first) key."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise SecretUnreadable("A stored secret cannot be decrypted for rotation.") from None


def generate_key() -> bytes:
    return Fernet.generate_key()


def read_keys(path: Path) -> list[bytes]:
    """Keys from a key file: one Fernet key per line, the first one encrypts."""
    try:
        text = path.read_text(encoding="ascii")
    except OSError as exc:
        raise ConfigurationError(f"Cannot read the key file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"The key file {path} is not a Fernet key file.") from None
    keys = [line.strip().encode("ascii") for line in text.splitlines() if line.strip()]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ConfigurationError(
                f"Line {number} of the key file {path} is not a valid key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    if not keys:
        raise ConfigurationError(f"The key file {path} holds no key.")
    _warn_if_readable_by_others(path)
    return keys


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Atomically replace the key file, readable by its owner only."""
    temporary = path.with_name(path.name + ".new")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write("".join(key.decode("ascii") + "\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def load_or_create_keys(path: Path, *, create: bool) -> list[bytes]:
    """Read the key file; create it (mode 0600) when allowed and absent."""
    if not path.exists() and create:
        path.parent.mkdir(parents=True, exist_ok=True)
        _create_key_file_atomically(path)
    return read_keys(path)


def _create_key_file_atomically(path: Path) -> None:
    """Write a fresh key beside ``path`` and hard-link it into place.

    ``link`` fails when ``path`` exists, so two processes starting at once agree
    on one key, and no reader ever sees a half-written file.
    """
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(generate_key().decode("ascii") + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
            log.info("created a new key file", extra={"path": str(path)})
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def _warn_if_readable_by_others(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the key file is readable by other users; restrict it to mode 0600",
            extra={"path": str(path)},
        )
