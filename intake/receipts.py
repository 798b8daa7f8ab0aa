"""Tracking numbers (受理编号) and receipt codes (查询码).

A receipt code is 16 characters of Crockford base32 (80 random bits; no I, L, O or U to
misread), shown once and stored only as a slow scrypt hash. The scrypt cost (N=1024, r=8:
1 MB of memory and a few milliseconds per guess) is modest on purpose: 80 random bits
already put guessing out of reach (2^80 guesses at milliseconds each), and the hash runs
on every submission and tracker lookup, so a heavier cost would only cap throughput.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session
from werkzeug.security import check_password_hash, generate_password_hash

from intake.models import TrackingCounter
from notices.timeutil import to_cst

# A tracking number as people type it back: PREFIX-YYYYMMDD-NNNN (the sequence may grow).
TRACKING_NO_PATTERN = r"[A-Za-z0-9]{1,16}-\d{8}-\d{3,6}"
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
HASH_METHOD = "scrypt:1024:8:1"
_DUMMY_HASH = generate_password_hash("0" * CODE_LENGTH, method=HASH_METHOD)
_CONFUSABLE = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def new_receipt_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def normalise_code(typed: str) -> str:
    """Accept lower case, spaces, dashes and the usual look-alikes (O for 0, I/L for 1)."""
    return re.sub(r"[^0-9A-Z]", "", (typed or "").upper()).translate(_CONFUSABLE)


def hash_code(code: str) -> str:
    return generate_password_hash(code, method=HASH_METHOD)


def check_code(stored_hash: str | None, typed: str) -> bool:
    """Constant work whether or not the report exists, so timing tells nothing."""
    code = normalise_code(typed)
    if stored_hash is None:
        check_password_hash(_DUMMY_HASH, code)
        return False
    return check_password_hash(stored_hash, code)


def next_tracking_no(session: Session, campaign_id: int, prefix: str, at: datetime) -> str:
    """PREFIX-YYYYMMDD-NNNN, the day in China Standard Time, unique per campaign.

    On PostgreSQL the counter moves in its own one-statement transaction (an upsert on a
    connection in autocommit mode), so the row lock is not held until the registration
    commits (a failed registration leaves a gap, never a duplicate). SQLite has one writer
    anyway: there it moves in the caller's transaction.
    """
    day = to_cst(at).strftime("%Y%m%d")
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        with bind.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            number = conn.execute(_pg_upsert(campaign_id, day)).scalar_one()
        return f"{prefix}-{day}-{number:04d}"
    return f"{prefix}-{day}-{_increment(session, campaign_id, day):04d}"


def _pg_upsert(campaign_id: int, day: str) -> sa.Insert:
    """INSERT ... ON CONFLICT DO UPDATE ... RETURNING: atomic, one round trip."""
    from sqlalchemy.dialects.postgresql import insert

    table = TrackingCounter.__table__
    statement = insert(table).values(campaign_id=campaign_id, day=day, last=1)
    return statement.on_conflict_do_update(
        index_elements=[table.c.campaign_id, table.c.day],
        set_={"last": table.c.last + 1}).returning(table.c.last)


def _increment(conn, campaign_id: int, day: str) -> int:
    table = TrackingCounter.__table__
    bump = (sa.update(table).where(table.c.campaign_id == campaign_id, table.c.day == day)
            .values(last=table.c.last + 1).returning(table.c.last))
    updated = conn.execute(bump).scalar()
    if updated is None:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(table).values(campaign_id=campaign_id, day=day, last=1))
            updated = 1
        except sa.exc.IntegrityError:
            updated = conn.execute(bump).scalar_one()
    return updated
