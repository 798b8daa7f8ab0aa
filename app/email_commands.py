"""CLI for inbound e-mail: the SMTP receiver and the pipe mode for an MTA.

    flask --app wsgi intake smtpd --host 127.0.0.1 --port 2525
    flask --app wsgi intake import-eml FILE|-

`import-eml` follows the sysexits convention MTAs understand: 0 accepted (or an automatic
message ignored), 65 (EX_DATAERR) refused with a reason on stderr, which the MTA bounces to
the sender, 75 (EX_TEMPFAIL) the database is unavailable and the MTA should retry.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import BinaryIO

import click
from flask import current_app
from flask.cli import with_appcontext

EX_DATAERR = 65
EX_TEMPFAIL = 75


def register_commands(group: click.Group) -> None:
    """Add `smtpd` and `import-eml` to the `intake` command group."""
    group.add_command(smtpd_command)
    group.add_command(import_eml_command)


@click.command("smtpd")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=2525, show_default=True, type=int)
@with_appcontext
def smtpd_command(host: str, port: int) -> None:
    """Receive reports by e-mail over SMTP (aiosmtpd) until stopped."""
    from intake.smtpd import make_controller

    app = current_app._get_current_object()
    controller = make_controller(app, host, port)
    controller.start()
    click.echo(f"receiving e-mail on {host}:{controller.port} (Ctrl-C to stop)")
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    finally:
        controller.stop()
        click.echo("SMTP receiver stopped")


@click.command("import-eml")
@click.argument("source", type=click.File("rb"))
@click.option("--recipient", "recipients", multiple=True,
              help="envelope recipient (the MTA's $recipient); picks the campaign whose "
                   "published address it is. Default: Delivered-To/X-Original-To/To headers")
@with_appcontext
def import_eml_command(source: BinaryIO, recipients: tuple[str, ...]) -> None:
    """Register one raw e-mail read from FILE, or from standard input with '-'."""
    raw = source.read()
    app = current_app._get_current_object()
    with app.test_request_context(base_url=app.config["PUBLIC_BASE_URL"]):
        # as in the web channel: translated messages and url_for need a request context
        _import(raw, list(recipients) or header_recipients(raw))


def header_recipients(raw: bytes) -> list[str]:
    """Recipient addresses a delivering MTA leaves in the headers (pipe mode without
    --recipient)."""
    from email import message_from_bytes
    from email.policy import compat32
    from email.utils import getaddresses

    message = message_from_bytes(raw, policy=compat32)

    def addresses(*names: str) -> list[str]:
        values = [str(v) for name in names for v in message.get_all(name) or []]
        return [address for _name, address in getaddresses(values) if address]

    # What the delivering MTA wrote wins over what the sender wrote.
    return addresses("Delivered-To", "X-Original-To") or addresses("To", "Cc")


def _import(raw: bytes, recipients: list[str]) -> None:
    from sqlalchemy.exc import IntegrityError, OperationalError

    from intake.email_in import ingest_email
    from intake.registration import RegistrationError
    from notices.campaigns import campaign_for_message
    from notices.db import session_scope

    services = current_app.extensions["intake"]
    tracking_no: str | None = None
    replayed = False
    for attempt in (1, 2):
        try:
            with session_scope() as session:
                campaign = campaign_for_message(session, recipients)
                if campaign is None or not campaign.is_active:
                    click.echo("refused: no active campaign", err=True)
                    sys.exit(EX_DATAERR)
                campaign_id = campaign.id
                session.commit()  # end the read transaction: registration writes
                receipt = ingest_email(session, raw, services, campaign_id)
                tracking_no = receipt.tracking_no if receipt else None
                replayed = bool(receipt and receipt.replayed)
        except RegistrationError as exc:
            click.echo(f"refused: {exc.message}", err=True)
            sys.exit(EX_DATAERR)
        except IntegrityError:
            if attempt == 2:
                click.echo("temporary failure: conflict while saving", err=True)
                sys.exit(EX_TEMPFAIL)
            continue
        except OperationalError:
            click.echo("temporary failure: database unavailable", err=True)
            sys.exit(EX_TEMPFAIL)
        break
    if tracking_no is None:
        click.echo("ignored: automatic reply or bounce")
    elif replayed:
        click.echo(f"already received as {tracking_no}")
    else:
        click.echo(f"registered as {tracking_no}")
