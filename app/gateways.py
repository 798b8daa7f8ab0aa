"""Outbound message gateways: the only code that talks to an SMS or e-mail provider.

The outbox worker (app/worker.py) calls `send` and records what happened. Gateways raise
`PermanentDeliveryError` when retrying cannot help (an invalid number, a refused mailbox)
and `TransientDeliveryError` when it can (provider down, 5xx, time-outs, throttling).

SMS providers are looked up by name in a registry (config `SMS_GATEWAY`), so a domestic
provider (PIPL art. 36 may require personal data to stay in China) plugs in beside Twilio
without touching domain code: either call `register_sms_gateway("name", factory)` from a
module imported at start-up, or set `SMS_GATEWAY=package.module:factory`. A factory takes
the app config (a mapping) and returns an object with `send(to, body) -> provider_id`.
"""

from __future__ import annotations

import importlib
import logging
import re
import secrets
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from intake.pii import mask_email, mask_phone
from intake.receipts import TRACKING_NO_PATTERN

log = logging.getLogger("app.outbox")

# Receipt codes (XXXX-XXXX-XXXX-XXXX) never go to a log, even from the console gateway.
_CODE_RE = re.compile(r"\b[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}\b")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Digits as people and providers write numbers: +86 139-1234-5678, (0971) 612 3456, also
# right next to text or a dash (号码13912345678不存在, phone_13912345678, phone-139…). Kept:
# tracking numbers (XNJT-20261127-0001) and Twilio SIDs (two letters, 32 hex digits).
_NUMBER_RE = re.compile(
    rf"(?P<keep>{TRACKING_NO_PATTERN}|\b[A-Z]{{2}}[0-9a-fA-F]{{32}}\b)"
    r"|(?<!\d)\+?\(?\d[\d\s().-]{5,}\d(?!\d)")
_DATE_TIME = re.compile(r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}(:\d{2}){0,2})?")


class DeliveryError(Exception):
    """A message could not be delivered; `permanent` says whether a retry can help."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(DeliveryError):
    permanent = False


class PermanentDeliveryError(DeliveryError):
    permanent = True


class GatewayConfigError(RuntimeError):
    """A gateway is selected but its settings are missing or unknown."""


@runtime_checkable
class SmsGateway(Protocol):
    name: str

    def send(self, to: str, body: str) -> str:
        """Send `body` to the E.164 number `to`; return the provider's message id."""


@runtime_checkable
class MediaGateway(Protocol):
    """An SMS gateway that can also fetch (and then delete) the pictures of an MMS."""

    def fetch_media(self, message_sid: str, media_sid: str, max_bytes: int) -> bytes: ...

    def delete_media(self, message_sid: str, media_sid: str) -> None: ...


@runtime_checkable
class EmailGateway(Protocol):
    name: str

    def send(self, to: str, subject: str, body: str) -> str:
        """Send a plain-text e-mail; return the provider's message id."""


def redact_for_log(text: str, recipient: str | None = None) -> str:
    """Text safe for a log line or the outbox page: no recipient (however a provider
    formats it), no e-mail address, no receipt code, no phone-like number."""
    if recipient:
        text = text.replace(recipient, mask_email(recipient) if "@" in recipient
                            else mask_phone(recipient))
    text = _CODE_RE.sub("****-****-****-****", text)
    text = _EMAIL_RE.sub(lambda m: mask_email(m.group(0)), text)
    return _NUMBER_RE.sub(_mask_number, text)


def _mask_number(match: re.Match) -> str:
    if match.group("keep"):
        return match.group(0)  # a tracking number, or an identifier such as a Twilio SID
    found = match.group(0)
    digits = re.sub(r"\D", "", found)
    if len(digits) < 7 or _DATE_TIME.fullmatch(found.strip()):
        return found  # an error code, a date: nobody's number
    return mask_phone(digits)


# ---------------------------------------------------------------------------------------
# SMS


class ConsoleSmsGateway:
    """Development default: logs the message (number masked, codes hidden), sends nothing."""

    name = "console"

    def send(self, to: str, body: str) -> str:
        provider_id = "console-" + secrets.token_hex(8)
        log.info("SMS to %s (%s): %s", mask_phone(to), provider_id, redact_for_log(body, to))
        return provider_id


class TwilioSmsGateway:
    """Twilio Programmable Messaging over its REST API (`Client.messages.create`).

    `api_base` replaces https://api.twilio.com (the `Api` domain's `base_url`), e.g. a
    loopback test server or a regional proxy; edge/region rewriting is then switched off.
    """

    name = "twilio"

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *,
                 api_base: str | None = None, timeout: float = 15.0,
                 status_callback: str | None = None) -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        if not (account_sid and auth_token and from_number):
            raise GatewayConfigError(
                "SMS_GATEWAY=twilio needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and "
                "TWILIO_FROM_NUMBER")
        self.from_number = from_number
        self.status_callback = status_callback
        self.account_sid = account_sid
        self._auth = (account_sid, auth_token)
        self.timeout = timeout
        self.client = Client(account_sid, auth_token,
                             http_client=TwilioHttpClient(timeout=timeout))
        if api_base:
            self.client.edge = None
            self.client.region = None
            self.client.api.base_url = api_base.rstrip("/")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioSmsGateway:
        return cls(config.get("TWILIO_ACCOUNT_SID") or "", config.get("TWILIO_AUTH_TOKEN") or "",
                   config.get("TWILIO_FROM_NUMBER") or "",
                   api_base=config.get("TWILIO_API_BASE"),
                   timeout=float(config.get("TWILIO_TIMEOUT", 15)),
                   status_callback=config.get("TWILIO_STATUS_CALLBACK"))

    def send(self, to: str, body: str) -> str:
        import requests
        from twilio.base.exceptions import TwilioException

        kwargs: dict[str, Any] = {"to": to, "from_": self.from_number, "body": body}
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"twilio unreachable: {type(exc).__name__}") from None
        except TwilioException as exc:
            raise _twilio_error(exc, to) from None
        if not message.sid:
            raise TransientDeliveryError("twilio returned no message sid")
        return message.sid


    def _media_url(self, message_sid: str, media_sid: str) -> str:
        return (f"{self.client.api.base_url}/2010-04-01/Accounts/{self.account_sid}"
                f"/Messages/{message_sid}/Media/{media_sid}")

    def fetch_media(self, message_sid: str, media_sid: str, max_bytes: int) -> bytes:
        """The content of an MMS picture (Twilio answers with a redirect to its media host;
        `requests` drops the credentials when it follows one to another host)."""
        import requests

        try:
            with requests.get(self._media_url(message_sid, media_sid), auth=self._auth,
                              timeout=self.timeout, stream=True) as response:
                status = response.status_code
                if status != 200:
                    reason = f"twilio media {status}"
                    if status in (404, 410) or (400 <= status < 500 and status not in
                                                (401, 403, 408, 429)):
                        raise PermanentDeliveryError(reason)
                    raise TransientDeliveryError(reason)
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise PermanentDeliveryError(f"twilio media over {max_bytes} bytes")
                return bytes(data)
        except requests.RequestException as exc:
            raise TransientDeliveryError(f"twilio media unreachable: {type(exc).__name__}") \
                from None

    def delete_media(self, message_sid: str, media_sid: str) -> None:
        """Remove a fetched picture from Twilio, which otherwise keeps it indefinitely."""
        (self.client.api.v2010.accounts(self.account_sid).messages(message_sid)
         .media(media_sid).delete())


def _twilio_error(exc: Exception, to: str) -> DeliveryError:
    status = int(getattr(exc, "status", 0) or 0)
    code = getattr(exc, "code", None)
    text = getattr(exc, "msg", None) or getattr(exc, "detail", None) or \
        getattr(exc, "title", None) or type(exc).__name__
    reason = redact_for_log(f"twilio {status or '-'} code {code or '-'}: {text}", to)
    # 4xx is the request's fault (invalid number, unsubscribed recipient...) and will fail
    # again; 401/403 (our credentials), 408 and 429 (throttling) and 5xx are worth a retry.
    if 400 <= status < 500 and status not in (401, 403, 408, 429):
        return PermanentDeliveryError(reason)
    return TransientDeliveryError(reason)


# ---------------------------------------------------------------------------------------
# E-mail


class ConsoleEmailGateway:
    """Development default: logs the e-mail (address masked, codes hidden), sends nothing."""

    name = "console"

    def send(self, to: str, subject: str, body: str) -> str:
        provider_id = "console-" + secrets.token_hex(8)
        log.info("E-mail to %s (%s) %r: %s", mask_email(to), provider_id, subject,
                 redact_for_log(body, to))
        return provider_id


class FlaskMailGateway:
    """SMTP through Flask-Mail with the app's MAIL_* settings; the Message-ID is the provider id.

    Acknowledgements carry `Auto-Submitted: auto-replied` (RFC 3834) so that well-behaved
    auto-responders do not answer them: no mail loops with our own receiver.
    """

    name = "smtp"

    def __init__(self, app: Any) -> None:
        self.app = app

    def send(self, to: str, subject: str, body: str) -> str:
        from flask_mail import BadHeaderError, Connection
        from flask_mail import Message as MailMessage

        with self.app.app_context():
            state = self.app.extensions["mail"]
            message = MailMessage(subject=subject, recipients=[to], body=body,
                                  sender=state.default_sender, charset="utf-8",
                                  extra_headers={"Auto-Submitted": "auto-replied",
                                                 "X-Auto-Response-Suppress": "All"})
            try:
                with Connection(state) as connection:
                    connection.send(message)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                error = (PermanentDeliveryError if codes and min(codes) >= 500
                         else TransientDeliveryError)
                raise error(f"smtp recipient refused {codes}") from None
            except smtplib.SMTPAuthenticationError as exc:
                raise TransientDeliveryError(f"smtp authentication failed {exc.smtp_code}") \
                    from None
            except smtplib.SMTPResponseException as exc:
                error = PermanentDeliveryError if exc.smtp_code >= 500 else TransientDeliveryError
                raise error(redact_for_log(f"smtp {exc.smtp_code}: {_smtp_text(exc)}", to)) \
                    from None
            except (BadHeaderError, ValueError, UnicodeError) as exc:
                raise PermanentDeliveryError(f"bad message: {type(exc).__name__}") from None
            except (TimeoutError, smtplib.SMTPException, OSError) as exc:
                raise TransientDeliveryError(f"smtp unreachable: {type(exc).__name__}") from None
            return message.msgId


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    raw = exc.smtp_error
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw))[:200]


# ---------------------------------------------------------------------------------------
# Registry


SmsFactory = Callable[[Mapping[str, Any]], SmsGateway]
EmailFactory = Callable[[Any], EmailGateway]

SMS_GATEWAYS: dict[str, SmsFactory] = {
    "console": lambda config: ConsoleSmsGateway(),
    "twilio": TwilioSmsGateway.from_config,
}
EMAIL_GATEWAYS: dict[str, EmailFactory] = {
    "console": lambda app: ConsoleEmailGateway(),
    "smtp": FlaskMailGateway,
}


def register_sms_gateway(name: str, factory: SmsFactory) -> None:
    """Make an SMS provider selectable by `SMS_GATEWAY=name`."""
    SMS_GATEWAYS[name] = factory


def register_email_gateway(name: str, factory: EmailFactory) -> None:
    EMAIL_GATEWAYS[name] = factory


def _resolve(name: str, registry: Mapping[str, Callable], kind: str) -> Callable:
    if name in registry:
        return registry[name]
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            return getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise GatewayConfigError(f"cannot load {kind} gateway {name!r}: {exc}") from None
    raise GatewayConfigError(
        f"unknown {kind} gateway {name!r}; choose one of {', '.join(sorted(registry))} "
        "or give module:factory")


@dataclass
class Gateways:
    sms: SmsGateway
    email: EmailGateway

    def for_channel(self, channel: str) -> SmsGateway | EmailGateway:
        return self.sms if channel == "sms" else self.email


def build_sms_gateway(config: Mapping[str, Any]) -> SmsGateway:
    return _resolve(config.get("SMS_GATEWAY") or "console", SMS_GATEWAYS, "SMS")(config)


def build_email_gateway(app: Any) -> EmailGateway:
    name = app.config.get("EMAIL_GATEWAY") or "console"
    return _resolve(name, EMAIL_GATEWAYS, "e-mail")(app)


def mms_account(config: Mapping[str, Any]) -> str | None:
    """The provider account whose MMS pictures the configured SMS gateway fetches, if any."""
    if (config.get("SMS_GATEWAY") or "console") == "twilio":
        return config.get("TWILIO_ACCOUNT_SID") or None
    return None


def build_gateways(app: Any) -> Gateways:
    """The gateways the app's settings select (SMS_GATEWAY, EMAIL_GATEWAY)."""
    return Gateways(sms=build_sms_gateway(app.config), email=build_email_gateway(app))
