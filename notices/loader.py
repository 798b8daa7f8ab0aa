"""Read a campaign's data files and upsert them into the database.

A campaign is a folder of UTF-8 YAML files (campaign.yaml, checklist.yaml, units.yaml,
routing.yaml, gazetteer.yaml, lexicon.yaml). Loading is idempotent: the second run
finds every row equal to its file and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, select

from notices.models import Campaign, ChecklistItem, Phase

CAMPAIGN_FIELDS = ("code", "title", "short_title", "short_title_en", "issuer", "issued_on",
                   "tracking_prefix", "summary", "notice_text", "five_areas", "channels",
                   "contact", "deadlines")


def read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def campaign_file(campaign_dir: Path, name: str) -> Path:
    """A campaign's data file; a folder whose campaign.yaml says `data_from: <slug>` takes
    the files it does not have (checklist, gazetteer, lexicon, units) from that sibling."""
    campaign_dir = Path(campaign_dir)
    own = campaign_dir / name
    if own.exists() or name == "campaign.yaml":
        return own
    parent = data_parent(campaign_dir)
    if not parent or parent == campaign_dir.name:
        return own
    inherited = campaign_dir.parent / parent / name
    return inherited if inherited.exists() else own


def data_parent(campaign_dir: Path) -> str | None:
    """The sibling folder named by campaign.yaml's `data_from` (one level, no chains)."""
    meta = Path(campaign_dir) / "campaign.yaml"
    return (read_yaml(meta) or {}).get("data_from") if meta.exists() else None


@dataclass(frozen=True)
class ChecklistRow:
    number: int
    group_number: int
    group_title: str
    category_number: int
    category: str
    category_heading: str
    text: str
    keywords: tuple[str, ...]


def checklist_rows(checklist: dict) -> list[ChecklistRow]:
    """Flatten checklist.yaml's categories > groups > items into rows, in item order."""
    rows = [
        ChecklistRow(item["number"], group["number"], group["title"], category["number"],
                     category["name"], category["heading"], item["text"],
                     tuple(item.get("keywords") or ()))
        for category in checklist["categories"]
        for group in category["groups"]
        for item in group["items"]
    ]
    return sorted(rows, key=lambda row: row.number)


def assign_all(row: Any, values: dict[str, Any]) -> bool:
    """Set every field to the given value; True if any changed."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def upsert_campaign(session: Session, campaign_dir: Path, *,
                    overwrite: bool = False) -> tuple[Campaign, int]:
    """Create the campaign, its phases and checklist; returns it and the change count.

    A campaign already in the database belongs to the task force, who edit it in the
    admin: only missing checklist items are added, and phases they deleted stay deleted.
    `overwrite` puts every value back as the files have it.
    """
    data = read_yaml(campaign_dir / "campaign.yaml")
    changes = 0
    campaign = session.exec(select(Campaign).where(Campaign.slug == data["slug"])).first()
    values = {name: data.get(name) for name in CAMPAIGN_FIELDS}
    values = {k: v if v is not None else ("" if k in ("summary", "notice_text") else v)
              for k, v in values.items()}
    created = campaign is None
    if created:
        campaign = Campaign(slug=data["slug"], **values)
        session.add(campaign)
        session.flush()
        changes += 1
    elif overwrite and assign_all(campaign, values):
        changes += 1

    existing_phases = {p.seq: p for p in session.exec(
        select(Phase).where(Phase.campaign_id == campaign.id))}
    for phase in data.get("phases", []) if created or overwrite else []:
        values = {"name": phase["name"], "due_on": phase.get("due_on"),
                  "description": (phase.get("description") or "").strip(),
                  "milestones": [{**m, "due_on": str(m["due_on"])}
                                 for m in phase.get("milestones") or []]}
        row = existing_phases.get(phase["seq"])
        if row is None:
            session.add(Phase(campaign_id=campaign.id, seq=phase["seq"], **values))
            changes += 1
        elif assign_all(row, values):
            changes += 1

    existing_items = {i.number: i for i in session.exec(
        select(ChecklistItem).where(ChecklistItem.campaign_id == campaign.id))}
    for item in checklist_rows(read_yaml(campaign_file(campaign_dir, "checklist.yaml"))):
        values = {"group_number": item.group_number, "group_title": item.group_title,
                  "category_number": item.category_number, "category": item.category,
                  "category_heading": item.category_heading, "text": item.text,
                  "keywords": list(item.keywords)}
        row = existing_items.get(item.number)
        if row is None:
            session.add(ChecklistItem(campaign_id=campaign.id, number=item.number, **values))
            changes += 1
        elif overwrite and assign_all(row, values):
            changes += 1
    session.flush()
    return campaign, changes


def active_campaign(session: Session, slug: str | None = None) -> Campaign | None:
    query = select(Campaign).where(Campaign.is_active == True)  # noqa: E712
    if slug:
        query = query.where(Campaign.slug == slug)
    return session.exec(query.order_by(Campaign.id)).first()


def grouped_checklist(session: Session, campaign_id: int) -> list[dict]:
    """Categories > groups > items, as the public checklist page shows them."""
    items = session.exec(select(ChecklistItem).where(ChecklistItem.campaign_id == campaign_id)
                         .order_by(ChecklistItem.number)).all()
    categories: dict[int, dict] = {}
    for item in items:
        category = categories.setdefault(item.category_number, {
            "number": item.category_number, "name": item.category,
            "heading": item.category_heading, "groups": {}})
        group = category["groups"].setdefault(item.group_number, {
            "number": item.group_number, "title": item.group_title, "items": []})
        group["items"].append(item)
    return [{**c, "groups": list(c["groups"].values())} for c in categories.values()]


def checklist_document(session: Session, campaign_id: int) -> dict:
    """The campaign's checklist as stored (keywords edited by the task force included), in
    the schema of checklist.yaml."""
    return {"categories": [
        {"number": c["number"], "name": c["name"], "heading": c["heading"],
         "groups": [{"number": g["number"], "title": g["title"],
                     "items": [{"number": i.number, "text": i.text, "keywords": list(i.keywords)}
                               for i in g["items"]]} for g in c["groups"]]}
        for c in grouped_checklist(session, campaign_id)]}
