"""The transcript never holds a secret in any form (spec §5) and renders SMTP replies."""

from __future__ import annotations

import base64
import binascii
import re

import pytest

from smtp_profile.mail.transcript import REDACTED, Transcript, scrub, secret_variants

LONG_PASSWORD = "correct horse battery staple"

_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_LINE = re.compile(r"^\+(\d+\.\d{3})s ([CS*]): (.*)$")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def recoverable(text: str, secret: str) -> bool:
    """True when ``secret`` is in ``text`` as such or inside any base64 run of it,
    whatever the run's alignment."""
    if secret in text:
        return True
    target = secret.encode("utf-8")
    for run in _BASE64_RUN.findall(text):
        bare = run.rstrip("=")
        for shift in range(4):
            chunk = bare[shift:]
            chunk += "=" * (-len(chunk) % 4)
            try:
                decoded = base64.b64decode(chunk)
            except (binascii.Error, ValueError):
                continue
            if target in decoded:
                return True
    return False


class FakeClock:
    def __init__(self, *times: float) -> None:
        self._times = list(times)
        self._last = times[-1]

    def __call__(self) -> float:
        return self._times.pop(0) if self._times else self._last


def test_leak_detector_finds_base64_at_any_alignment() -> None:
    """The oracle itself: it must see the secret in an unredacted blob."""
    for prefix in (b"", b"\x00", b"\x00u", b"\x00us"):
        assert recoverable(f"AUTH PLAIN {_b64(prefix + b'hunter2')}", "hunter2")
    assert not recoverable("AUTH PLAIN ***", "hunter2")


# ----------------------------------------------------------- plain text secret


def test_secret_is_scrubbed_from_client_server_and_note_lines() -> None:
    transcript = Transcript(secrets=[LONG_PASSWORD])
    transcript.client(f"AUTH LOGIN {LONG_PASSWORD}")
    transcript.server(535, f"5.7.8 bad password {LONG_PASSWORD}")
    transcript.note(f"tried {LONG_PASSWORD}!")
    rendered = "\n".join(transcript.rendered())
    assert LONG_PASSWORD not in rendered
    assert rendered.count(REDACTED) == 3
    assert "tried ***!" in rendered
    assert "5.7.8 bad password ***" in rendered


def test_secret_added_later_is_scrubbed_from_following_lines() -> None:
    transcript = Transcript()
    transcript.add_secret("s3cr3t-added-later")
    transcript.client("PASS s3cr3t-added-later")
    assert transcript.lines[0].text == f"PASS {REDACTED}"


def test_text_without_secret_is_kept_verbatim() -> None:
    transcript = Transcript(secrets=[LONG_PASSWORD])
    transcript.client("MAIL FROM:<noreply@example.com>")
    assert transcript.lines[0].text == "MAIL FROM:<noreply@example.com>"


def test_empty_secret_redacts_nothing() -> None:
    transcript = Transcript(secrets=[""])
    transcript.client("EHLO client.example")
    assert transcript.lines[0].text == "EHLO client.example"


# -------------------------------------------------------------- base64 forms


@pytest.mark.parametrize("password", [LONG_PASSWORD, "hunter2", "pw", "пароль-ключ"])
def test_base64_of_the_secret_is_scrubbed(password: str) -> None:
    """AUTH LOGIN sends the password as its own base64 line."""
    transcript = Transcript(secrets=[password])
    transcript.client(_b64(password.encode()))
    transcript.client(f"AUTH LOGIN {_b64(password.encode())}")
    for line in transcript.lines:
        assert not recoverable(line.text, password)
        assert REDACTED in line.text


@pytest.mark.parametrize(
    "blob_prefix",
    [
        pytest.param("\0{user}\0", id="plain-no-authzid"),
        pytest.param("{user}\0{user}\0", id="plain-authzid"),
    ],
)
@pytest.mark.parametrize(
    "user", ["u", "ab", "bob", "user", "alice", "CORP\\svc", "svc@corp.example"]
)
@pytest.mark.parametrize(
    "password", [LONG_PASSWORD, "Tr0ub4dor&3xyz", "Zx9!kq#Lm2"], ids=["long", "14ch", "10ch"]
)
def test_sasl_plain_blob_is_scrubbed(blob_prefix: str, user: str, password: str) -> None:
    blob = (blob_prefix.format(user=user) + password).encode("utf-8")
    transcript = Transcript(secrets=[password])
    transcript.client(f"AUTH PLAIN {_b64(blob)}")
    text = transcript.lines[0].text
    assert text.startswith("AUTH PLAIN ")
    assert REDACTED in text
    assert not recoverable(text, password)


@pytest.mark.parametrize(
    ("user", "password"),
    [
        pytest.param("jo", "Summer24", id="8-char-password"),
        pytest.param("bob", "hunter2", id="7-char-password"),
        pytest.param("alice", "s3cret", id="6-char-password"),
    ],
)
def test_sasl_plain_blob_with_short_password_is_scrubbed(user: str, password: str) -> None:
    blob = f"\0{user}\0{password}".encode()
    transcript = Transcript(secrets=[password])
    transcript.client(f"AUTH PLAIN {_b64(blob)}")
    assert not recoverable(transcript.lines[0].text, password), transcript.lines[0].text


def test_sasl_login_exchange_is_scrubbed() -> None:
    transcript = Transcript(secrets=[LONG_PASSWORD])
    transcript.client("AUTH LOGIN")
    transcript.server(334, "VXNlcm5hbWU6")
    transcript.client(_b64(b"CORP\\svc"))
    transcript.server(334, "UGFzc3dvcmQ6")
    transcript.client(_b64(LONG_PASSWORD.encode()))
    transcript.server(235, "2.7.0 Authentication successful")
    rendered = "\n".join(transcript.rendered())
    assert not recoverable(rendered, LONG_PASSWORD)
    assert transcript.lines[4].text == REDACTED
    # the user name is not a secret and stays readable
    assert transcript.lines[2].text == _b64(b"CORP\\svc")


# ------------------------------------------------------------- secret_variants


def test_secret_variants_include_value_and_base64() -> None:
    variants = secret_variants(["hunter2"])
    assert "hunter2" in variants
    assert _b64(b"hunter2") in variants


def test_secret_variants_are_longest_first_and_skip_empty() -> None:
    variants = secret_variants(["", LONG_PASSWORD, "pw"])
    assert "" not in variants
    assert [len(v) for v in variants] == sorted((len(v) for v in variants), reverse=True)
    assert {LONG_PASSWORD, "pw", _b64(b"pw")} <= set(variants)


def test_secret_variants_of_nothing_is_empty() -> None:
    assert secret_variants([]) == []
    assert secret_variants([""]) == []


def test_every_variant_is_redacted_by_scrub() -> None:
    variants = secret_variants([LONG_PASSWORD])
    for variant in variants:
        assert REDACTED in scrub(f"x {variant} y", variants)
        assert variant not in scrub(f"x {variant} y", variants)


# -------------------------------------------------------------- server replies


def test_multi_line_reply_uses_dash_then_space() -> None:
    transcript = Transcript()
    transcript.server(250, "mail.example.com Hello\nPIPELINING\nSTARTTLS\nAUTH PLAIN LOGIN")
    assert [line.text for line in transcript.lines] == [
        "250-mail.example.com Hello",
        "250-PIPELINING",
        "250-STARTTLS",
        "250 AUTH PLAIN LOGIN",
    ]
    assert all(line.direction == "S" for line in transcript.lines)


def test_single_line_reply() -> None:
    transcript = Transcript()
    transcript.server(221, "2.0.0 Bye")
    assert [line.text for line in transcript.lines] == ["221 2.0.0 Bye"]


def test_empty_reply_still_shows_the_code() -> None:
    transcript = Transcript()
    transcript.server(354, "")
    assert [line.text for line in transcript.lines] == ["354 "]


def test_crlf_separated_reply_has_no_stray_carriage_returns() -> None:
    transcript = Transcript()
    transcript.server(250, "first\r\nsecond")
    assert [line.text for line in transcript.lines] == ["250-first", "250 second"]


def test_client_line_loses_its_line_ending() -> None:
    transcript = Transcript()
    transcript.client("QUIT\r\n")
    assert transcript.lines[0].text == "QUIT"


# ------------------------------------------------------------------ timestamps


def test_lines_are_rendered_with_elapsed_time_and_direction() -> None:
    clock = FakeClock(100.0, 100.0, 100.25, 101.5)
    transcript = Transcript(clock=clock)
    transcript.client("EHLO client.example")
    transcript.server(250, "a\nb")
    rendered = transcript.rendered()
    assert rendered == [
        "+0.000s C: EHLO client.example",
        "+0.250s S: 250-a",
        "+1.500s S: 250 b",
    ]


def test_rendered_lines_are_timestamped_and_monotonic() -> None:
    transcript = Transcript()
    transcript.note("connecting")
    transcript.client("EHLO x")
    transcript.server(250, "ok")
    stamps = []
    for line in transcript.rendered():
        match = _LINE.match(line)
        assert match, line
        stamps.append(float(match.group(1)))
    assert stamps == sorted(stamps)
    assert [line.direction for line in transcript.lines] == ["*", "C", "S"]
