"""Benchmark the classifier on a labelled JSONL file.

    python bench/classify.py LABELLED.jsonl [--cv 5] [--model PATH] [--campaign DIR]

With ``--cv K`` the model is trained K times on the other folds (use it whenever the
file is, or overlaps, the training set); without it the shipped model (or the
checklist-only baseline if no model file exists) is evaluated as is.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from intake.classification import (  # noqa: E402
    CampaignData,
    Classifier,
    kfold,
    train_model,
)
from routing.policy import resolve_unit  # noqa: E402

DEFAULT_CAMPAIGN = ROOT / "notices" / "data" / "xining-2023-129"
DEFAULT_MODEL = ROOT / "instance" / "classifier-model.npz"


def pct(x: float) -> str:
    return f"{100 * x:5.1f}%"


def evaluate(rows, preds, rules, min_conf, latencies, startup) -> None:
    n = len(rows)
    with_items = [(r, p) for r, p in zip(rows, preds, strict=True) if r.get("items")]
    top1 = sum(1 for r, p in with_items if p.items[:1] and p.items[0] in r["items"])
    top1_strict = sum(1 for r, p in with_items if p.items[:1] == r["items"][:1])
    top3 = sum(1 for r, p in with_items if set(p.items[:3]) & set(r["items"]))
    empty = [(r, p) for r, p in zip(rows, preds, strict=True) if not r.get("items")]
    empty_ok = sum(1 for _, p in empty if not p.items)
    kind = sum(1 for r, p in zip(rows, preds, strict=True) if p.kind == r.get("kind"))
    agency = sum(1 for r, p in zip(rows, preds, strict=True) if p.agency == r.get("agency"))
    jur = sum(
        1 for r, p in zip(rows, preds, strict=True) if p.jurisdiction == r.get("jurisdiction")
    )

    def units(threshold: float) -> tuple[float, float, float]:
        ok = wrong = triaged = 0
        for r, p in zip(rows, preds, strict=True):
            d = resolve_unit(p, rules, min_confidence=threshold)
            exp = r.get("expected_unit")
            if d.unit == exp:
                ok += 1
            elif d.unit is not None:
                wrong += 1
            if d.unit is None and exp is not None:
                triaged += 1
        return ok / n, wrong / n, triaged / n

    unit_acc, wrong, triaged = units(min_conf)
    print(f"reports                {n}  (with items: {len(with_items)})")
    print(
        f"top-1 item             {pct(top1 / max(1, len(with_items)))}   (strict first item: {pct(top1_strict / max(1, len(with_items)))})"
    )
    print(f"top-3 item             {pct(top3 / max(1, len(with_items)))}")
    print(
        f"no-item reports empty  {pct(empty_ok / max(1, len(empty)))}   ({empty_ok}/{len(empty)})"
    )
    print(f"kind                   {pct(kind / n)}")
    print(f"agency                 {pct(agency / n)}")
    print(f"jurisdiction           {pct(jur / n)}")
    print(
        f"unit @{min_conf:.2f}            {pct(unit_acc)}   wrong unit {pct(wrong)}   triaged but routable {pct(triaged)}"
    )
    lat = sorted(latencies)
    p50 = statistics.median(lat) * 1000
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] * 1000
    print(f"latency per report     p50 {p50:.2f} ms   p99 {p99:.2f} ms")
    print(f"start-up (load)        {startup:.2f} s")
    print("\nthreshold sweep (min_confidence: unit accuracy / wrong unit / triaged-but-routable):")
    for t in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        a, w, tr = units(t)
        print(f"  {t:.2f}: {pct(a)} / {pct(w)} / {pct(tr)}")

    print("\nworst items (gold first item: recall, predicted instead):")
    per: dict[int, list[int | None]] = defaultdict(list)
    for r, p in with_items:
        per[r["items"][0]].append(p.items[0] if p.items else None)
    ranked = sorted(per.items(), key=lambda kv: sum(1 for x in kv[1] if x == kv[0]) / len(kv[1]))
    for item, got in ranked[:8]:
        rec = sum(1 for x in got if x == item) / len(got)
        wrong_to = Counter(x for x in got if x != item).most_common(3)
        if rec < 1:
            print(f"  item {item:2d}: {pct(rec)}  -> {wrong_to}")
    confusions = Counter(
        (r.get("kind"), p.kind) for r, p in zip(rows, preds, strict=True) if r.get("kind") != p.kind
    )
    print("kind confusions:", dict(confusions.most_common(6)))
    agency_conf = Counter(
        (r.get("agency"), p.agency)
        for r, p in zip(rows, preds, strict=True)
        if r.get("agency") != p.agency
    )
    print("agency confusions:", dict(agency_conf.most_common(6)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("labelled", type=Path)
    ap.add_argument(
        "--cv", type=int, default=0, help="K-fold cross-validation (train on other folds)"
    )
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    ap.add_argument("--campaign", type=Path, default=DEFAULT_CAMPAIGN)
    ap.add_argument("--min-confidence", type=float, default=None)
    ap.add_argument("--no-calibrate", action="store_true", help="skip calibration in CV (faster)")
    ap.add_argument("--errors", action="store_true", help="list misrouted reports")
    args = ap.parse_args(argv)

    rows = [
        json.loads(line)
        for line in args.labelled.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    routing = yaml.safe_load((args.campaign / "routing.yaml").read_text(encoding="utf-8")) or {}
    rules = routing.get("rules") or []
    min_conf = (
        args.min_confidence
        if args.min_confidence is not None
        else float(routing.get("min_confidence", 0.5))
    )

    preds: list = [None] * len(rows)
    latencies: list[float] = []
    if args.cv:
        t0 = time.perf_counter()
        campaign = CampaignData.load(args.campaign)
        featurizer = campaign.featurizer()
        startup = time.perf_counter() - t0
        index = {id(r): i for i, r in enumerate(rows)}
        for f, (train, test) in enumerate(kfold(rows, args.cv)):
            model = train_model(
                train, campaign, calibrate=not args.no_calibrate, featurizer=featurizer
            )
            if f == 0:  # measure a real start-up: data files + saved model from disk
                with tempfile.TemporaryDirectory() as tmp:
                    path = Path(tmp) / "m.npz"
                    model.save(path)
                    t0 = time.perf_counter()
                    Classifier.load(args.campaign, path)
                    startup = time.perf_counter() - t0
            clf = Classifier(campaign, model, featurizer=featurizer)
            for r in test:
                t0 = time.perf_counter()
                preds[index[id(r)]] = clf.classify(r["text"], r.get("channel"))
                latencies.append(time.perf_counter() - t0)
        print(f"== {args.cv}-fold cross-validation on {args.labelled}")
    else:
        t0 = time.perf_counter()
        clf = Classifier.load(args.campaign, args.model if args.model.exists() else None)
        startup = time.perf_counter() - t0
        label = f"model {args.model}" if clf.model else "checklist-only baseline (no model file)"
        print(f"== {label} on {args.labelled}")
        if clf.model:
            print(
                f"   model meta: {json.dumps({k: clf.model.meta.get(k) for k in ('created', 'n_examples', 'training_data_sha256')}, ensure_ascii=False)}"
            )
        for i, r in enumerate(rows):
            t0 = time.perf_counter()
            preds[i] = clf.classify(r["text"], r.get("channel"))
            latencies.append(time.perf_counter() - t0)
    evaluate(rows, preds, rules, min_conf, latencies, startup)
    if args.errors:
        print("\nerrors:")
        for r, p in zip(rows, preds, strict=True):
            d = resolve_unit(p, rules, min_confidence=min_conf)
            bad_item = r.get("items") and (not p.items or p.items[0] not in r["items"])
            if (
                d.unit != r.get("expected_unit")
                or bad_item
                or p.kind != r.get("kind")
                or p.agency != r.get("agency")
            ):
                print(
                    f"  {r['id']} gold items={r.get('items')} kind={r.get('kind')} agency={r.get('agency')} "
                    f"jur={r.get('jurisdiction')} unit={r.get('expected_unit')}"
                )
                print(
                    f"       got  items={p.items[:3]} kind={p.kind} agency={p.agency} jur={p.jurisdiction} "
                    f"unit={d.unit} conf={p.confidence:.2f} {p.details.get('agency_cues')} | {r['text'][:50]}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
