"""The conversation with the relay, timestamped and redacted. Pure.

Two layers keep secrets out: AUTH exchanges are recorded as ``***`` by the
sender while they happen, and every line is scrubbed of any string derived
from a secret (the value, its base64 and the SASL blobs) before it is kept.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

REDACTED = "***"


@dataclass(frozen=True, slots=True)
class TranscriptLine:
    elapsed_ms: int
    direction: str  # "C" client, "S" server, "*" note
    text: str

    def render(self) -> str:
        return f"+{self.elapsed_ms / 1000:.3f}s {self.direction}: {self.text}"


def secret_variants(secrets: Iterable[str]) -> list[str]:
    """Each secret plus the encodings that would carry it on the wire."""
    variants: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        raw = secret.encode("utf-8")
        variants.add(secret)
        for offset in range(3):
            # base64 of any text containing the secret contains one of these
            # three shifted encodings of its middle part.
            shifted = base64.b64encode(b"\x00" * offset + raw).decode("ascii")
            core = shifted[(offset * 4 + 2) // 3 + 1 : -4] if len(shifted) > 8 else ""
            if len(core) >= 4:
                variants.add(core)
        variants.add(base64.b64encode(raw).decode("ascii"))
    return sorted(variants, key=len, reverse=True)


def scrub(text: str, variants: Iterable[str]) -> str:
    for variant in variants:
        if variant in text:
            text = text.replace(variant, REDACTED)
    return text


@dataclass
class Transcript:
    """Collects lines as they happen; secrets never make it in."""

    secrets: list[str] = field(default_factory=list)
    clock: Callable[[], float] = time.monotonic
    lines: list[TranscriptLine] = field(default_factory=list)
    _start: float = 0.0
    _variants: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._start = self.clock()
        self._variants = secret_variants(self.secrets)

    def add_secret(self, secret: str) -> None:
        self.secrets.append(secret)
        self._variants = secret_variants(self.secrets)

    def scrub(self, text: str) -> str:
        """``text`` with every form of a known secret replaced by ``***``."""
        return scrub(text, self._variants)

    def client(self, text: str) -> None:
        self._add("C", text)

    def server(self, code: int, message: str) -> None:
        parts = message.splitlines() or [""]
        for index, part in enumerate(parts):
            separator = "-" if index < len(parts) - 1 else " "
            self._add("S", f"{code}{separator}{part}")

    def note(self, text: str) -> None:
        self._add("*", text)

    def elapsed_ms(self) -> int:
        return int((self.clock() - self._start) * 1000)

    def rendered(self) -> list[str]:
        return [line.render() for line in self.lines]

    def _add(self, direction: str, text: str) -> None:
        clean = scrub(text.rstrip("\r\n"), self._variants)
        self.lines.append(TranscriptLine(self.elapsed_ms(), direction, clean))
