"""What one bench run produces: figures (medians of several runs), ratios, target verdicts.

Absolute times drift on shared machines; a ratio to a baseline measured in the same
invocation does not drift as much, so every timed figure can name its baseline and the
report carries both. Targets are printed as pass/short, never asserted: a loaded machine
must not fail CI.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

# Every figure a run reports (a skipped one says why); the smoke test checks this list.
FIGURE_KEYS: tuple[str, ...] = (
    "python_startup",
    "cache_hit_local",
    "cache_hit_s3",
    "layer_build_warm_ours",
    "layer_build_warm_pip",
    "layer_build_cold_ours",
    "layer_build_cold_pip",
    "layer_build_warm_ours_host_python",
    "sam_build_cold",
    "sam_build_cached",
    "determinism_layer",
    "determinism_package",
    "deploy_code_only",
    "rollback_by_alias",
    "deploy_no_change",
    "deploy_layer_change",
    "synth_fast_all_stacks",
    "synth_standard_one_stack",
    "size_layer",
    "size_package",
    # bench/realistic.py (issue 12)
    "cold_import_no_bytecode",
    "cold_import_bytecode",
    "realistic_build_cold_ours",
    "realistic_build_cold_pip",
    "realistic_build_warm_ours",
    "realistic_build_warm_pip",
    "realistic_cache_hit",
    "size_realistic_layer",
    # bench/checks.py (issue 18)
    "deploy_checks_without",
    "deploy_checks_with",
)


@dataclass(frozen=True, kw_only=True)
class Figure:
    """One measured quantity: its runs, their median, and what it is compared against."""

    key: str
    label: str
    unit: str  # "s", "bytes" or "bool"
    runs: tuple[float, ...] = ()
    baseline: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    skipped: str | None = None

    def __post_init__(self) -> None:
        if self.key not in FIGURE_KEYS:
            raise ValueError(f"figure key {self.key!r}: add it to FIGURE_KEYS")
        if self.unit not in {"s", "bytes", "bool"}:
            raise ValueError(f"{self.key}.unit: got {self.unit!r}; allowed: s, bytes, bool")
        if self.skipped is None and not self.runs:
            raise ValueError(f"{self.key}: no runs; pass skipped=REASON instead")

    @property
    def median(self) -> float | None:
        return statistics.median(self.runs) if self.runs else None


@dataclass(frozen=True, kw_only=True)
class Target:
    """A goal from the issue, judged from the figures: (value text, passed or None)."""

    name: str
    judge: Callable[[Mapping[str, Figure]], tuple[str, bool | None]]


def ratio(figures: Mapping[str, Figure], key: str, baseline: str) -> float | None:
    value = figures[key].median if key in figures else None
    base = figures[baseline].median if baseline in figures else None
    if value is None or base is None or base == 0:
        return None
    return value / base


def figure_ratio(figures: Mapping[str, Figure], figure: Figure) -> float | None:
    return None if figure.baseline is None else ratio(figures, figure.key, figure.baseline)


def _fmt_value(figure: Figure, value: float | None) -> str:
    if value is None:
        return "-"
    if figure.unit == "s":
        return f"{value:.2f} s"
    if figure.unit == "bool":
        return "true" if value >= 1 else "false"
    return f"{value / 1e6:.2f} MB" if value >= 1e6 else f"{value / 1e3:.1f} kB"


def render_table(
    figures: Mapping[str, Figure], verdicts: Sequence[tuple[str, str, bool | None]]
) -> str:
    rows = [("figure", "median", "runs", "baseline", "ratio", "notes")]
    for key in FIGURE_KEYS:
        figure = figures[key]
        if figure.skipped is not None:
            rows.append((key, "skipped", "", "", "", figure.skipped))
            continue
        found = figure_ratio(figures, figure)
        notes = "; ".join(f"{k}={v}" for k, v in figure.details.items() if _short(v))
        rows.append(
            (
                key,
                _fmt_value(figure, figure.median),
                str(len(figure.runs)),
                figure.baseline or "",
                "-" if found is None else f"{found:.2f}x",
                notes,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5]
        for row in rows
    ]
    lines.append("")
    lines.append("targets (printed, not asserted):")
    for name, value, passed in verdicts:
        mark = "n/a" if passed is None else ("pass" if passed else "SHORT")
        lines.append(f"  [{mark:>5}] {name}: {value}")
    return "\n".join(lines)


def _short(value: Any) -> bool:
    """Details short enough for a table cell (lists and long text stay in the JSON)."""
    return isinstance(value, int | float | bool) or (isinstance(value, str) and len(value) < 40)


def judge_all(
    figures: Mapping[str, Figure], targets: Sequence[Target]
) -> list[tuple[str, str, bool | None]]:
    return [(target.name, *target.judge(figures)) for target in targets]


def to_json(
    *,
    mode: str,
    machine: Mapping[str, Any],
    tools: Mapping[str, Any],
    figures: Mapping[str, Figure],
    verdicts: Sequence[tuple[str, str, bool | None]],
    notes: Sequence[str],
    elapsed_s: float,
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "mode": mode,
        "elapsed_s": round(elapsed_s, 1),
        "machine": dict(machine),
        "tools": dict(tools),
        "notes": list(notes),
        "figures": {
            key: {
                "label": figure.label,
                "unit": figure.unit,
                "median": figure.median,
                "runs": list(figure.runs),
                "baseline": figure.baseline,
                "ratio": figure_ratio(figures, figure),
                "details": dict(figure.details),
                "skipped": figure.skipped,
            }
            for key in FIGURE_KEYS
            for figure in (figures[key],)
        },
        "targets": [
            {"name": name, "value": value, "pass": passed} for name, value, passed in verdicts
        ],
    }


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def from_json(
    data: Mapping[str, Any],
) -> tuple[dict[str, Figure], list[tuple[str, str, bool | None]]]:
    """A saved run back into figures and verdicts, to print its table again."""
    figures = {
        key: Figure(
            key=key,
            label=item["label"],
            unit=item["unit"],
            runs=tuple(item["runs"]),
            baseline=item["baseline"],
            details=item["details"],
            skipped=item["skipped"],
        )
        for key, item in data["figures"].items()
    }
    verdicts = [(t["name"], t["value"], t["pass"]) for t in data["targets"]]
    return figures, verdicts
