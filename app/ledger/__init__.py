"""The rectification ledger (整改工作台账) and the campaign's stage reports."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this feature's blueprints and commands."""
    from app.ledger import stage_reports, views

    app.register_blueprint(views.bp)
    app.cli.add_command(stage_reports.stage_report_command)
