"""The routing policy of DESIGN.md as one pure function over a classification and rules.

Rules are dicts as in ``routing.yaml``: ``{priority, name, when: {agency|first_item|
jurisdiction: value}, action: refer|dispatch, unit}``. The first matching rule by
ascending priority wins; before that, non-actionable kinds, low confidence and
conflicts of interest send the report to the task force's triage queue.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ANY_UNIT", "RoutingDecision", "resolve_unit"]

ANY_UNIT = "*"  # the classifier's marker for "the leadership of the receiving unit"
Action = Literal["dispatch", "refer", "triage"]
_NOT_FOR_UNITS = {
    "spam": "spam: not accepted",
    "invalid": "invalid: nothing to act on",
    "inquiry": "inquiry: answered by the task force",
    "praise": "praise: passed on by the task force",
}


@dataclass(frozen=True)
class RoutingDecision:
    unit: str | None
    action: Action
    rule: str | None
    reason: str


def _get(result: Any, name: str, default: Any = None) -> Any:
    if isinstance(result, Mapping):
        return result.get(name, default)
    return getattr(result, name, default)


def _matches(when: Mapping[str, Any], result: Any) -> bool:
    if not when:
        return False
    items = _get(result, "items") or []
    for key, value in when.items():
        if key == "agency":
            actual = _get(result, "agency")
        elif key == "first_item":
            actual = items[0] if items else None
            value = int(value)
        elif key == "jurisdiction":
            actual = _get(result, "jurisdiction")
        elif key == "kind":
            actual = _get(result, "kind")
        else:  # unknown condition: never match rather than route by accident
            return False
        if isinstance(value, list | tuple | set):
            if actual not in value:
                return False
        elif actual != value:
            return False
    return True


def resolve_unit(
    result: Any,
    rules: Sequence[Mapping[str, Any]],
    *,
    min_confidence: float,
) -> RoutingDecision:
    """Decide where a classified report goes.

    ``result`` is a Classification (or its ``to_dict()``). Order: not-actionable kinds
    and low confidence go to triage; then the first matching rule; a report accusing
    the leadership of the unit it would go to goes to triage instead (the task force
    sends it one level up); no matching rule (no place known) goes to triage.
    """
    kind = _get(result, "kind") or "complaint"
    if kind in _NOT_FOR_UNITS:
        return RoutingDecision(None, "triage", None, _NOT_FOR_UNITS[kind])
    confidence = float(_get(result, "confidence") or 0.0)
    if confidence < min_confidence:
        return RoutingDecision(
            None, "triage", None, f"low confidence {confidence:.2f} < {min_confidence:.2f}"
        )
    ordered = sorted(
        (r for r in rules if r.get("is_active", True)),
        key=lambda r: (r.get("priority", 0), str(r.get("name", ""))),
    )
    for rule in ordered:
        if not _matches(rule.get("when") or {}, result):
            continue
        unit = rule.get("unit")
        action = rule.get("action") or "dispatch"
        accused = list(_get(result, "accused_leadership") or [])
        if unit in accused or (ANY_UNIT in accused and action == "dispatch"):
            return RoutingDecision(
                None,
                "triage",
                rule.get("name"),
                f"conflict of interest: the report accuses the leadership of {unit}; "
                "the task force escalates it one level up",
            )
        return RoutingDecision(unit, action, rule.get("name"), f"rule {rule.get('name')}")
    if not _get(result, "jurisdiction"):
        return RoutingDecision(None, "triage", None, "no place known: triage")
    return RoutingDecision(None, "triage", None, "no routing rule matched: triage")
