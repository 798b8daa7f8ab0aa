"""Load a campaign's units and routing rules from its data files (idempotent).

Rows already in the database are the task force's (edited in the admin and on the rules
page): seeding only adds what is missing; `overwrite` puts the files' values back.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from notices.loader import assign_all, campaign_file, read_yaml
from notices.models import Campaign
from routing.models import RoutingAction, RoutingRule, Unit, UnitKind


def upsert_units(session: Session, campaign_dir: Path, *, overwrite: bool = False) -> int:
    data = read_yaml(campaign_file(campaign_dir, "units.yaml"))
    changes = 0
    by_code = {u.code: u for u in session.exec(select(Unit))}
    created: set[str] = set()
    for spec in data["units"]:
        values = {"name": spec["name"], "short_name": spec.get("short_name") or spec["name"],
                  "name_en": spec.get("name_en"),
                  "kind": UnitKind(spec["kind"]), "jurisdiction": spec.get("jurisdiction") or [],
                  "email": spec.get("email"), "phone": spec.get("phone"),
                  "leaders": spec.get("leaders") or []}
        unit = by_code.get(spec["code"])
        if unit is None:
            unit = Unit(code=spec["code"], **values)
            session.add(unit)
            by_code[unit.code] = unit
            created.add(unit.code)
            changes += 1
        elif overwrite and assign_all(unit, values):
            changes += 1
    session.flush()
    for spec in data["units"]:
        parent = by_code[spec["parent"]].id if spec.get("parent") else None
        unit = by_code[spec["code"]]
        if unit.parent_id != parent and (overwrite or unit.code in created):
            unit.parent_id = parent
            changes += 1
    session.flush()
    return changes


def upsert_rules(session: Session, campaign_id: int, campaign_dir: Path, *,
                 overwrite: bool = False) -> int:
    data = read_yaml(campaign_file(campaign_dir, "routing.yaml"))
    # routing.yaml names units as units.yaml does; the database may know them by another
    # name since (renamed in the admin), so go through their codes.
    codes = {spec["name"]: spec["code"]
             for spec in read_yaml(campaign_file(campaign_dir, "units.yaml"))["units"]}
    by_code = {u.code: u.id for u in session.exec(select(Unit))}
    units = {name: by_code[code] for name, code in codes.items() if code in by_code}
    existing = {r.priority: r for r in session.exec(
        select(RoutingRule).where(RoutingRule.campaign_id == campaign_id))}
    changes = 0
    for spec in data["rules"]:
        rule = existing.get(spec["priority"])
        if rule is not None and not overwrite:
            continue  # the task force's rule, as they left it
        if spec["unit"] not in units:
            raise ValueError(f"routing rule {spec['name']!r} names unknown unit {spec['unit']!r}")
        values = {"name": spec["name"], "when": dict(spec["when"]),
                  "action": RoutingAction(spec["action"]), "unit_id": units[spec["unit"]]}
        if rule is None:
            session.add(RoutingRule(campaign_id=campaign_id, priority=spec["priority"], **values))
            changes += 1
        elif assign_all(rule, values):
            changes += 1
    settings = {k: v for k, v in data.items() if k != "rules"}
    campaign = session.get(Campaign, campaign_id)
    if campaign.routing != settings and (overwrite or not campaign.routing):
        campaign.routing = settings
        changes += 1
    session.flush()
    return changes
