"""Time the dashboard, list, ledger, search and /stats pages on a seeded volume database.

    python bench/seed_volume.py --url sqlite:////tmp/bench.db --reports 200000
    python bench/dashboard.py --url sqlite:////tmp/bench.db [--repeat 5]

Each page is rendered through the real app (test client, signed in); the figure is the
median wall time of `--repeat` requests after one warm-up (which also loads the
working-day calendar). /stats is timed with its cache off and on.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlmodel import Session, func, select  # noqa: E402

PAGES = [
    ("dashboard (all)", "/taskforce"),
    ("dashboard (1 month)", "/taskforce?from=2023-06-01&to=2023-06-30"),
    ("dashboard (unit+category)", "/taskforce?unit={unit}&category=粗暴执法"),
    ("list (all, page 1)", "/taskforce/list"),
    ("list (page 100)", "/taskforce/list?page=100"),
    ("list (overdue)", "/taskforce/list?overdue=1"),
    ("list (item 21, 城东区)", "/taskforce/list?item=21&district=城东区"),
    ("search (text)", "/search?q=停车费&from=2023-06-01&to=2023-06-30"),
    ("search (tracking no)", "/search?q=B000123456"),
    ("ledger", "/ledger"),
    ("stats (no cache)", "/stats"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from app import create_app
    from app.auth import create_user
    from app.models import User
    from intake.models import Report
    from routing.models import Unit

    app = create_app("test", DATABASE_URL=args.url, SECRET_KEY="bench-" + "x" * 40,
                     PII_KEYS=Fernet.generate_key().decode(), HASH_KEY="bench",
                     STATS_CACHE_SECONDS=0)
    engine = app.extensions["engine"]
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "bench-tf")).first()
        if user is None:
            user = create_user(session, username="bench-tf", password="bench-pw-123",
                               role="taskforce")
            session.commit()
        unit = session.exec(select(Unit.id).where(Unit.code == "zfjd")).one()
        count = session.exec(select(func.count()).select_from(Report)).one()
        staff_id = user.id
    client = app.test_client()
    with client.session_transaction() as s:
        s["staff_id"] = staff_id
    print(f"{engine.dialect.name}: {count} reports; median of {args.repeat} runs")
    results = []
    t0 = time.perf_counter()
    client.get("/taskforce")
    print(f"  first dashboard request (loads the in-memory snapshot): "
          f"{(time.perf_counter() - t0) * 1000:.0f} ms")
    for label, url in PAGES:
        url = url.format(unit=unit)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
        results.append((label, statistics.median(times), max(times)))
    app.config["STATS_CACHE_SECONDS"] = 300
    client.get("/stats")
    t0 = time.perf_counter()
    client.get("/stats")
    results.append(("stats (cached)", (time.perf_counter() - t0) * 1000, 0.0))
    for label, median, worst in results:
        flag = "" if median < 300 else "  <-- over 300 ms"
        print(f"  {label:<28} {median:8.1f} ms   (max {worst:7.1f}){flag}")


if __name__ == "__main__":
    main()
