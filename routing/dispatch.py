"""Automatic dispatch of a freshly registered report by the campaign's routing rules."""

from __future__ import annotations

import time
from collections.abc import Callable

from flask_babel import gettext as _
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
    """The campaign's active rules, cached for a few seconds.

    Every registration routes; the rules change a few times a campaign.  A rule names its
    unit by ``unit_id`` only: names and states of units are read fresh for each decision,
    so renaming or deactivating a unit needs no cache refresh.
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
    rows = session.exec(select(RoutingRule)
                        .where(RoutingRule.campaign_id == campaign_id,
                               RoutingRule.is_active == True)  # noqa: E712
                        .order_by(RoutingRule.priority)).all()
    return [{"priority": rule.priority, "name": rule.name, "when": rule.when,
             "action": rule.action.value, "unit_id": rule.unit_id} for rule in rows]


def _missing_unit(unit_id: int) -> str:
    """The policy's label for a rule whose unit is gone (never a real unit name)."""
    return f"#{unit_id}"


def _decide(session: Session, report: Report) -> tuple[RoutingDecision, Unit | None]:
    """The decision and the unit it goes to (None for triage)."""
    campaign = session.get(Campaign, report.campaign_id)
    threshold = float((campaign.routing or {}).get("min_confidence", DEFAULT_MIN_CONFIDENCE))
    if not report.classification:
        return RoutingDecision(None, "triage", None, "not classified"), None
    result = dict(report.classification)
    read = result.get("jurisdiction")
    if report.district and read and read != report.district:
        # The sender named one district, the text places it in another (a driver's route
        # often passes through both): a person decides.
        return RoutingDecision(None, "triage", None,
                               f"district given ({report.district}) and place in the text "
                               f"({read}) differ: triage"), None
    if report.district:
        result["jurisdiction"] = report.district
    result["accused_leadership"] = _accused_names(session, result)
    rules = rules_for(session, report.campaign_id)
    ids = {r["unit_id"] for r in rules}
    units = {u.id: u for u in session.exec(select(Unit).where(Unit.id.in_(ids)))} if ids else {}
    # The policy works on unit names (the conflict-of-interest check compares them with the
    # leadership the text accuses): give it today's names, and map them back to ids.
    labelled = []
    by_label: dict[str, int] = {}
    for rule in rules:
        unit = units.get(rule["unit_id"])
        label = unit.name if unit is not None else _missing_unit(rule["unit_id"])
        by_label[label] = rule["unit_id"]
        labelled.append({**rule, "unit": label})
    decision = resolve_unit(result, labelled, min_confidence=threshold)
    if decision.unit is None or decision.action == "triage":
        return decision, None
    unit = units.get(by_label[decision.unit])
    if unit is None:
        return RoutingDecision(None, "triage", decision.rule, _(
            "规则“%(rule)s”指定的责任单位已不存在，线索未自动转办，请人工分拣并修改该规则。",
            rule=decision.rule)), None
    if not unit.is_active:
        return RoutingDecision(None, "triage", decision.rule, _(
            "规则“%(rule)s”指定的责任单位“%(unit)s”已停用，线索未自动转办，请人工分拣并修改该规则。",
            rule=decision.rule, unit=unit.name)), None
    return decision, unit


def _accused_names(session: Session, result: dict) -> list[str]:
    """The units whose leadership the text accuses, by today's names: the classifier knows
    them by the names in the data files, which the task force may have changed since, so
    the codes it gives are looked up too (a rename must not open a conflict of interest)."""
    names = list(result.get("accused_leadership") or [])
    codes = [c for c in result.get("accused_units") or [] if c not in names]
    if codes:
        names += session.exec(select(Unit.name).where(Unit.code.in_(codes))).all()
    return names


def decide(session: Session, report: Report) -> RoutingDecision:
    """Where the campaign's rules send ``report`` (triage, with the reason, if nowhere)."""
    return _decide(session, report)[0]


def auto_dispatch(session: Session, services: IntakeServices, report: Report) -> RoutingDecision:
    """Dispatch or refer when the machine is sure; otherwise leave it in triage with the reason."""
    if report.duplicate_of_id is not None:
        decision = RoutingDecision(None, "triage", None, "likely duplicate: the task force merges")
        unit = None
    else:
        decision, unit = _decide(session, report)
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
