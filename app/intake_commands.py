"""`flask intake classify` and `flask intake train`: the classifier's command line.

The classifier is loaded once per process from the campaign data directory plus the
trained model file (``CLASSIFIER_MODEL_PATH``) if it exists.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
import yaml
from flask import current_app
from flask.cli import AppGroup

from app.wiring import load_classifier
from intake.classification import Classifier, train_model
from routing.policy import resolve_unit

__all__ = ["confirmed_examples", "get_classifier", "intake_cli", "routing_policy"]

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CAMPAIGN_DIR = ROOT / "notices" / "data" / "xining-2023-129"
LABELLED_DIR = ROOT / "intake" / "data" / "labelled"

intake_cli = AppGroup("intake", help="Classify reports and train the classifier.")

# Hook for examples confirmed or corrected by the task force in the triage queue.
# The app wires a function returning dicts like the labelled JSONL lines
# ({"text", "items", "kind", "agency", "jurisdiction"}); until then there are none.
confirmed_examples_source: Callable[..., Iterable[dict[str, Any]]] | None = None


def confirmed_examples(campaign_slugs: list[str] | None = None) -> list[dict[str, Any]]:
    """Examples confirmed in the triage queue ([] until the app wires the source)."""
    if confirmed_examples_source is None:
        return []
    return list(confirmed_examples_source(campaign_slugs))


def _campaign_dir() -> Path:
    return Path(current_app.config["CAMPAIGN_DATA_DIR"]) / current_app.config["DEFAULT_CAMPAIGN"]


def _model_path() -> Path:
    return Path(current_app.config["CLASSIFIER_MODEL_PATH"])


def get_classifier() -> Classifier:
    """The process-wide classifier (loaded on first use, then reused), with the checklist as
    stored in the database when the campaign is seeded."""
    from notices.db import get_session
    from notices.loader import active_campaign, checklist_document

    session = get_session()
    try:
        campaign = active_campaign(session, current_app.config["DEFAULT_CAMPAIGN"])
        checklist = checklist_document(session, campaign.id) if campaign else None
    except Exception:  # no database yet: the data files alone
        session.rollback()
        checklist = None
    return load_classifier(_campaign_dir(), _model_path(), checklist)


def routing_policy() -> tuple[list[dict[str, Any]], float]:
    """Rules and min_confidence from the campaign's routing.yaml."""
    path = _campaign_dir() / "routing.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    data = data or {}
    return list(data.get("rules") or []), float(data.get("min_confidence", 0.5))


@intake_cli.command("classify")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path)
)
def classify_command(input_path: Path, output_path: Path) -> None:
    """Classify each JSONL line ({"id", "text", "channel"?}); labels in the input are ignored."""
    clf = get_classifier()
    rules, min_confidence = routing_policy()
    n = 0
    started = time.perf_counter()
    with (
        open(input_path, encoding="utf-8-sig") as src,
        open(output_path, "w", encoding="utf-8") as out,
    ):
        for lineno, line in enumerate(src, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise click.ClickException(f"{input_path}:{lineno}: not JSON ({exc.msg})") from exc
            text = record.get("text")
            res = clf.classify(text if isinstance(text, str) else "", record.get("channel"))
            decision = resolve_unit(res, rules, min_confidence=min_confidence)
            row = {
                "id": record.get("id"),
                "items": res.items,
                "scores": res.scores,
                "category": res.category,
                "kind": res.kind,
                "agency": res.agency,
                "jurisdiction": res.jurisdiction,
                "unit": decision.unit,
                "plates": res.plates,
                "confidence": res.confidence,
                "phones": res.phones,
                "times": res.times,
                "action": decision.action,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    click.echo(f"classified {n} reports in {time.perf_counter() - started:.2f} s -> {output_path}")


@intake_cli.command("train")
@click.option(
    "--labelled",
    "labelled_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=LABELLED_DIR,
    show_default=True,
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="default: CLASSIFIER_MODEL_PATH (or <model>-<slug>.npz with --campaign)",
)
@click.option("--campaign", "slug", default=None,
              help="campaign folder with a checklist of its own (default: DEFAULT_CAMPAIGN)")
def train_command(labelled_dir: Path, output_path: Path | None, slug: str | None) -> None:
    """Train from intake/data/labelled/*.jsonl plus examples confirmed in triage (in the
    campaigns that use the model being trained)."""
    from app.wiring import model_for, own_model

    data_dir = Path(current_app.config["CAMPAIGN_DATA_DIR"])
    campaign_dir = data_dir / slug if slug else _campaign_dir()
    if not (campaign_dir / "campaign.yaml").exists():
        raise click.BadParameter(f"no campaign folder {campaign_dir}", param_hint="--campaign")
    model_path = own_model(current_app, campaign_dir.name)
    sharing = [p.parent.name for p in data_dir.glob("*/campaign.yaml")
               if model_for(current_app, p.parent) == model_path] or [campaign_dir.name]
    target = output_path or model_path
    examples: list[dict[str, Any]] = []
    for path in sorted(labelled_dir.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                examples.append(json.loads(line))
    shipped = len(examples)
    examples.extend(confirmed_examples(sharing))
    if not examples:
        raise click.ClickException(f"no labelled examples in {labelled_dir}")
    model = train_model(examples, campaign_dir)
    model.save(target)
    click.echo(
        f"trained on {shipped} shipped + {len(examples) - shipped} confirmed examples; "
        f"{model.meta['n_features']} features; data sha256 {model.meta['training_data_sha256'][:12]}; "
        f"saved {target}"
    )
