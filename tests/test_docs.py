"""The README's tables cover every setting and every error code the code defines."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtp_profile.errors import CATALOGUE, FIELD_RULE_CODES
from smtp_profile.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    assert f"`SMTP_PROFILE_{name.upper()}`" in README


@pytest.mark.parametrize(
    "code", sorted({entry.code for entry in CATALOGUE.values()} | set(FIELD_RULE_CODES.values()))
)
def test_every_error_code_is_documented(code: str) -> None:
    assert f"`{code}`" in README
