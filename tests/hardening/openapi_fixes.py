"""Where the served OpenAPI document disagrees with what the service really answers.

Each :class:`Deviation` names the place in the document and how it is wrong; the fuzz
suite validates responses against the document with these corrections applied (so it
keeps checking everything else), and ``test_openapi_document.py`` pins each deviation
with a strict xfail: once ``src`` documents it correctly, that test XPASSes and fails,
and the entry here can go.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Document = dict[str, Any]


@dataclass(frozen=True)
class Deviation:
    where: str
    what: str
    correct: Callable[[Document], None]


# Every deviation found so far is now documented by the service itself
# (smtp_profile.api.openapi); add one here, with a strict xfail, when a new one shows.
DEVIATIONS: tuple[Deviation, ...] = ()


def corrected(document: Document) -> Document:
    """A copy of ``document`` with every known deviation corrected."""
    fixed = copy.deepcopy(document)
    for deviation in DEVIATIONS:
        deviation.correct(fixed)
    return fixed
