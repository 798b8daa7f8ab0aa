"""Automatic dispatch of a freshly registered report by the campaign's routing rules."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlmodel import Session, select

from intake.models import Event, Report
from intake.registration import IntakeServices
from notices.models import Campaign
from routing.models import RoutingAction, RoutingRule, Unit
from routing.policy import RoutingDecision, resolve_unit
from routing.transitions import SYSTEM, TransitionError, dispatch, refer

DEFAULT_MIN_CONFIDENCE = 0.5


_RULES_TTL = 30.0
_rules_cache: dict[tuple[str, int], tuple[float, list[dict]]] = {}


def forget_rules() -> None:
    """Drop cached rules (the rules page calls this after a change)."""
    _rules_cache.clear()


def rules_for(session: Session, campaign_id: int) -> list[dict]:
    """The campaign's active rules in the policy's dict form, cached for a few seconds.

    Every registration routes; the rules change a few times a campaign.
    """
    key = (str(session.get_bind().url), campaign_id)
    hit = _rules_cache.get(key)
    now = time.monotonic()
    if hit is not None and now - hit[0] < _RULES_TTL:
        return hit[1]
    rules = _load_rules(session, campaign_id)
    _rules_cache[key] = (now, rules)
    return rules


def _load_rules(session: Session, campaign_id: int) -> list[dict]:
    rows = session.exec(select(RoutingRule, Unit).join(Unit, Unit.id == RoutingRule.unit_id)
                        .where(RoutingRule.campaign_id == campaign_id,
                               RoutingRule.is_active == True,  # noqa: E712
                               Unit.is_active == True)  # noqa: E712
                        .order_by(RoutingRule.priority)).all()
    return [{"priority": rule.priority, "name": rule.name, "when": rule.when,
             "action": rule.action.value, "unit": unit.name} for rule, unit in rows]


def decide(session: Session, report: Report) -> RoutingDecision:
    campaign = session.get(Campaign, report.campaign_id)
    threshold = float((campaign.routing or {}).get("min_confidence", DEFAULT_MIN_CONFIDENCE))
    if not report.classification:
        return RoutingDecision(None, "triage", None, "not classified")
    result = dict(report.classification)
    read = result.get("jurisdiction")
    if report.district and read and read != report.district:
        # The sender named one district, the text places it in another (a driver's route
        # often passes through both): a person decides.
        return RoutingDecision(None, "triage", None,
                               f"district given ({report.district}) and place in the text "
                               f"({read}) differ: triage")
    if report.district:
        result["jurisdiction"] = report.district
    return resolve_unit(result, rules_for(session, report.campaign_id), min_confidence=threshold)


def auto_dispatch(session: Session, services: IntakeServices, report: Report) -> RoutingDecision:
    """Dispatch or refer when the machine is sure; otherwise leave it in triage with the reason."""
    if report.duplicate_of_id is not None:
        decision = RoutingDecision(None, "triage", None, "likely duplicate: the task force merges")
    else:
        decision = decide(session, report)
    unit = session.exec(select(Unit).where(Unit.name == decision.unit)).first() \
        if decision.unit else None
    try:
        # A savepoint: if the move is refused (say the unit was just deactivated), the
        # report stays registered and waits in triage instead of failing the submission.
        with session.begin_nested():
            if decision.action == RoutingAction.dispatch.value and unit is not None:
                dispatch(session, services, report.id, unit.id, SYSTEM, note=decision.reason)
                return decision
            if decision.action == RoutingAction.refer.value and unit is not None:
                refer(session, services, report.id, SYSTEM, unit_id=unit.id, note=decision.reason)
                return decision
    except TransitionError as exc:
        session.refresh(report)
        decision = RoutingDecision(None, "triage", decision.rule, f"not routed: {exc}")
    session.add(Event(report_id=report.id, kind="triage_reason", note=decision.reason,
                      data={"rule": decision.rule}))
    return decision


def after_register_hook(services: IntakeServices) -> Callable[[Session, Report], None]:
    def hook(session: Session, report: Report) -> None:
        auto_dispatch(session, services, report)

    return hook
