"""What plan-check prints: the short table a person reads, and the `--json` object."""

from __future__ import annotations

from typing import Any

from scripts.infra.plan_check import Change, Refusal, Report

# Deletions first (they are what refuses a plan), creations last.
_ORDER = {
    "delete": 0,
    "replace": 1,
    "create+forget": 2,
    "forget": 3,
    "no-op": 4,
    "update": 5,
    "create": 6,
}


def render_table(report: Report, *, env_name: str) -> str:
    """The short table a person reads: what is imported, created, changed; then refusals."""
    rows = [c for c in report.changes if c.action != "no-op" or c.import_id is not None]
    lines = [f"plan-check {env_name}: {report.summary}"]
    if rows:
        kind_width = max(len(c.kind) for c in rows)
        type_width = max(len(c.type) for c in rows)
        label_width = max(len(c.label) for c in rows)
        for c in sorted(rows, key=lambda c: (_ORDER.get(c.action, 9), c.type, c.label)):
            changed = _changed(c)
            lines.append(
                f"  {c.kind:<{kind_width}}  {c.type:<{type_width}}  "
                f"{c.label:<{label_width}}  {changed}".rstrip()
            )
        if any(c.unknown and not (c.action == "replace" and c.replace_paths) for c in rows):
            lines.append("  (* known after apply)")
    if report.intended:
        lines.append(f"intended ({len(report.intended)}), by the configuration or --allow:")
        lines.extend(f"  {r.line()}" for r in report.intended)
    if report.ok:
        lines.append(verdict(report))
    else:
        lines.append(f"refused ({len(report.refusals)}):")
        lines.extend(f"  {r.line()}" for r in report.refusals)
    return "\n".join(lines)


def _changed(change: Change) -> str:
    if change.action == "replace" and change.replace_paths:
        # Every attribute of a replaced resource differs: what forces it is what to read.
        forced = ", ".join(".".join(map(str, path)) for path in change.replace_paths)
        return f"forced by {forced}"
    return ", ".join(f"{a}*" if a in change.unknown else a for a in change.attributes)


def verdict(report: Report) -> str:
    """The last line of an accepted plan: what it takes away is said, never hidden."""
    counts = report.counts
    taken = [f"{counts[k]} to {k}" for k in ("delete", "replace", "forget") if counts[k]]
    if not taken:
        return (
            "ok: nothing deleted, replaced or forgotten; nothing loses messages or cuts "
            "traffic; no protected attribute changed unintended"
        )
    intended = f", {len(report.intended)} intended" if report.intended else ""
    return f"ok: {', '.join(taken)} (listed above), none refused{intended}"


def to_json(report: Report) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "summary": report.counts,
        "changes": [
            {
                "address": c.address,
                "type": c.type,
                "label": c.label,
                "action": c.action,
                "import_id": c.import_id,
                "attributes": list(c.attributes),
                "unknown": list(c.unknown),
            }
            for c in report.changes
            if c.action != "no-op" or c.import_id is not None
        ],
        "refusals": [_refusal(r) for r in report.refusals],
        "intended": [_refusal(r) for r in report.intended],
    }


def _refusal(refusal: Refusal) -> dict[str, Any]:
    return {
        "address": refusal.address,
        "label": refusal.label,
        "attribute": refusal.attribute,
        "reason": refusal.reason,
    }
