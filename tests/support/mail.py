"""Loopback SMTP servers for e-mail tests (aiosmtpd, real sockets).

* `receiver(app)`: the intake receiver under test (intake.smtpd), on a free port;
* `CaptureSMTP`: an "outside" mail server that keeps what it is sent (our acknowledgements);
  `stop()` takes it down, `start()` brings it back on the same port.
"""

from __future__ import annotations

import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage

from intake.smtpd import IntakeController, make_controller


@dataclass
class Captured:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)

    @property
    def text(self) -> str:
        body = self.message.get_body(("plain",))
        return body.get_content() if body is not None else ""


@dataclass
class CaptureSMTP:
    host: str = "127.0.0.1"
    port: int = 0
    received: list[Captured] = field(default_factory=list)
    _controller: IntakeController | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        with self._lock:
            self.received.append(Captured(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content))
        return "250 2.0.0 OK"

    def start(self) -> CaptureSMTP:
        self._controller = IntakeController(self, hostname=self.host, port=self.port)
        self._controller.start()
        self.port = self._controller.port
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self) -> dict:
        """app_settings entries that make the app's e-mail gateway deliver here."""
        return {"EMAIL_GATEWAY": "smtp", "MAIL_SERVER": self.host, "MAIL_PORT": self.port,
                "MAIL_USE_TLS": False, "MAIL_SUPPRESS_SEND": False}


@contextmanager
def receiver(app, host: str = "127.0.0.1") -> Iterator[tuple[str, int]]:
    """The app's inbound SMTP receiver on a free loopback port; yields (host, port)."""
    controller = make_controller(app, host, 0)
    controller.start()
    try:
        yield host, controller.port
    finally:
        controller.stop()
