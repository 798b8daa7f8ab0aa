"""The app layer knows every package, so it is where all models are imported."""

from __future__ import annotations


def import_models() -> None:
    """Import every model module so SQLModel.metadata knows all tables (migrations, tests)."""
    import app.models  # noqa: F401
    import intake.models  # noqa: F401
    import intake.outbox  # noqa: F401
    import notices.models  # noqa: F401
    import routing.models  # noqa: F401
