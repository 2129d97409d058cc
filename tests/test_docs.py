"""The README's tables cover every setting and every error code the code defines."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtp_profile.errors import CATALOGUE, FIELD_RULE_CODES
from smtp_profile.mail.diagnosis import Failure
from smtp_profile.settings import Settings
from smtp_profile.troubleshooting import STAGES, troubleshooting_table

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`SMTP_PROFILE_{name.upper()}`" in README


@pytest.mark.parametrize(
    "code", sorted({entry.code for entry in CATALOGUE.values()} | set(FIELD_RULE_CODES.values()))
)
def test_every_error_code_is_documented(code: str) -> None:
    assert f"`{code}`" in README


def test_troubleshooting_table_matches_the_hint_catalogue() -> None:
    start = README.index("<!-- troubleshooting:start -->\n") + len(
        "<!-- troubleshooting:start -->\n"
    )
    end = README.index("<!-- troubleshooting:end -->")
    assert README[start:end].strip() == troubleshooting_table(), (
        "regenerate with: python -m smtp_profile.troubleshooting"
    )


def test_every_failure_class_has_a_stage_in_the_table() -> None:
    assert {failure.value for failure in Failure} - set(STAGES) <= {
        "timeout",
        "test-timeout",
        "protocol-error",
        "service-unavailable",
        "connection-dropped",
    }
