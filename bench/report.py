"""Rows of figures against their baselines: the printed table and the JSON document."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    """One figure: its value, the baseline measured in the same run, and the target.

    ``ratio`` is value / baseline. ``met`` is None for a figure without a target.
    """

    figure: str
    name: str
    value: float
    unit: str
    baseline: float | None
    baseline_name: str
    target: str
    met: bool | None
    generator: str
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def as_json(self) -> dict[str, Any]:
        ratio = self.ratio
        return {
            "figure": self.figure,
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "baseline": None if self.baseline is None else round(self.baseline, 3),
            "baseline_name": self.baseline_name,
            "ratio": None if ratio is None else round(ratio, 3),
            "target": self.target,
            "met": self.met,
            "load_generator": self.generator,
            "note": self.note,
            **({"extra": self.extra} if self.extra else {}),
        }


def ratio_row(
    figure: str,
    name: str,
    value: float,
    unit: str,
    baseline: float,
    baseline_name: str,
    *,
    target: str,
    check: Callable[[float], bool] | None,
    generator: str,
    note: str = "",
) -> Row:
    """A row whose target is a bound on value / baseline (``check`` gets the ratio)."""
    ratio = value / baseline if baseline else None
    met = None if check is None or ratio is None else check(ratio)
    return Row(figure, name, value, unit, baseline, baseline_name, target, met, generator, note)


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def render_table(rows: Sequence[Row]) -> str:
    header = ["Fig", "Measurement", "Value", "Baseline (same run)", "Ratio", "Target", "Met"]
    lines: list[list[str]] = []
    for row in rows:
        ratio = row.ratio
        baseline = (
            f"{_number(row.baseline, row.unit)} {row.baseline_name}".strip()
            if row.baseline is not None
            else row.baseline_name or "-"
        )
        met = "-" if row.met is None else ("yes" if row.met else "NO")
        lines.append(
            [
                row.figure,
                row.name,
                _number(row.value, row.unit),
                baseline,
                "-" if ratio is None else f"{ratio:.2f}",
                row.target,
                met,
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    out = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)),
        "  ".join("-" * w for w in widths),
    ]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    notes = [f"  [{row.figure}] {row.name}: {row.note}" for row in rows if row.note]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
