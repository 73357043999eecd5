"""What plan-check prints: the short table a person reads, and the `--json` object."""

from __future__ import annotations

from typing import Any

from scripts.infra.plan_check import Report

# Deletions first (they are what refuses a plan), creations last.
_ORDER = {"delete": 0, "replace": 1, "no-op": 2, "update": 3, "create": 4, "forget": 5}


def render_table(report: Report, *, env_name: str) -> str:
    """The short table a person reads: what is imported, created, changed; then refusals."""
    rows = [c for c in report.changes if c.action != "no-op" or c.import_id is not None]
    lines = [f"plan-check {env_name}: {report.summary}"]
    if rows:
        kind_width = max(len(c.kind) for c in rows)
        type_width = max(len(c.type) for c in rows)
        label_width = max(len(c.label) for c in rows)
        for c in sorted(rows, key=lambda c: (_ORDER.get(c.action, 9), c.type, c.label)):
            changed = ", ".join(f"{a}*" if a in c.unknown else a for a in c.attributes)
            lines.append(
                f"  {c.kind:<{kind_width}}  {c.type:<{type_width}}  "
                f"{c.label:<{label_width}}  {changed}".rstrip()
            )
        if any(c.unknown for c in rows):
            lines.append("  (* known after apply)")
    if report.ok:
        lines.append("ok: nothing deleted or replaced, no protected attribute changed unintended")
    else:
        lines.append(f"refused ({len(report.refusals)}):")
        lines.extend(f"  {r.line()}" for r in report.refusals)
    return "\n".join(lines)


def to_json(report: Report) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "summary": {
            "import": report.imports,
            "create": report.count("create"),
            "update": report.count("update"),
            "delete": report.count("delete"),
            "replace": report.count("replace"),
        },
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
        "refusals": [
            {"address": r.address, "label": r.label, "attribute": r.attribute, "reason": r.reason}
            for r in report.refusals
        ],
    }
