"""A loopback HTTP server speaking the part of Twilio's REST API that we use.

`POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP basic auth
(AccountSid:AuthToken) and a form body (To, From, Body) answers 201 with a JSON message
resource, like Twilio. It records every request, can be told to fail (`fail_with(500)`,
`fail_with(400)`) or be down (`stop()`; `start()` brings it back on the same port).

MMS pictures: `GET .../Messages/{MessageSid}/Media/{MediaSid}` (basic auth) answers 307 to
an address on the same server that serves the bytes put in `media`, like
Twilio's redirect to its media host; `DELETE .../Media/{MediaSid}.json` answers 204 and is
recorded in `deleted`. `media_status` makes the media address answer that status instead.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass
class FakeSms:
    account_sid: str
    to: str
    from_: str
    body: str
    sid: str


@dataclass
class FakeTwilio:
    account_sid: str = "AC" + "0" * 32
    auth_token: str = "fake-auth-token"
    host: str = "127.0.0.1"
    port: int = 0
    messages: list[FakeSms] = field(default_factory=list)
    requests: int = 0
    failure: int | None = None
    media: dict[str, bytes] = field(default_factory=dict)
    media_status: int | None = None
    media_fetches: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def fail_with(self, status: int | None) -> None:
        """Answer every request with this HTTP status (None: work normally)."""
        self.failure = status

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def _reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self, account: str) -> bool:
                expected = base64.b64encode(
                    f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
                return (self.headers.get("Authorization") == f"Basic {expected}"
                        and account == fake.account_sid)

            def _media_sid(self, suffix: str = "") -> str | None:
                """The MediaSid of an authorised request for .../Media/{sid}{suffix}; anything
                else is answered here (404 or 401) and gives None."""
                parts = self.path.split("?", 1)[0].strip("/").split("/")
                if not (len(parts) == 7 and parts[:2] == ["2010-04-01", "Accounts"]
                        and parts[3] == "Messages" and parts[5] == "Media"
                        and parts[6].endswith(suffix)):
                    self._reply(404, {"code": 20404, "status": 404})
                    return None
                if not self._authorised(parts[2]):
                    self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return None
                return parts[6].removesuffix(suffix) if suffix else parts[6]

            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("/media-host/"):
                    sid = self.path.rsplit("/", 1)[1]
                    data = fake.media.get(sid)
                    if data is None:
                        self._reply(404, {"status": 404})
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                sid = self._media_sid()
                if sid is None:
                    return
                with fake._lock:
                    fake.media_fetches.append(sid)
                if fake.media_status:
                    self._reply(fake.media_status, {"code": 20404, "status": fake.media_status})
                    return
                if sid not in fake.media or sid in fake.deleted:
                    self._reply(404, {"code": 20404, "status": 404})
                    return
                self.send_response(307)
                self.send_header("Location", f"{fake.base_url}/media-host/{sid}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_DELETE(self) -> None:  # noqa: N802
                sid = self._media_sid(".json")
                if sid is None:
                    return
                with fake._lock:
                    fake.deleted.append(sid)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode("utf-8"))
                with fake._lock:
                    fake.requests += 1
                parts = self.path.strip("/").split("/")
                if (len(parts) != 4 or parts[0] != "2010-04-01" or parts[1] != "Accounts"
                        or parts[3] != "Messages.json"):
                    self._reply(404, {"code": 20404, "message": "The requested resource was "
                                      "not found", "status": 404})
                    return
                if not self._authorised(parts[2]):
                    self._reply(401, {"code": 20003, "message": "Authenticate", "status": 401})
                    return
                if fake.failure == 400:
                    to = form.get("To", [""])[0]
                    self._reply(400, {"code": 21211, "message": f"The 'To' number {to} is not "
                                      "a valid phone number.", "status": 400,
                                      "more_info": "https://www.twilio.com/docs/errors/21211"})
                    return
                if fake.failure:
                    self._reply(fake.failure, {"code": 20500, "message": "Internal Server "
                                               "Error", "status": fake.failure})
                    return
                message = FakeSms(parts[2], form.get("To", [""])[0], form.get("From", [""])[0],
                                  form.get("Body", [""])[0], "SM" + secrets.token_hex(16))
                with fake._lock:
                    fake.messages.append(message)
                self._reply(201, {
                    "sid": message.sid, "account_sid": message.account_sid, "to": message.to,
                    "from": message.from_, "body": message.body, "status": "queued",
                    "num_segments": "1", "direction": "outbound-api", "api_version": "2010-04-01",
                    "uri": f"/2010-04-01/Accounts/{message.account_sid}/Messages/"
                           f"{message.sid}.json"})

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take the server down (connections are refused until `start`)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def settings(self) -> dict:
        """app_settings entries that point the Twilio gateway at this server."""
        return {"SMS_GATEWAY": "twilio", "TWILIO_ACCOUNT_SID": self.account_sid,
                "TWILIO_AUTH_TOKEN": self.auth_token, "TWILIO_FROM_NUMBER": "+15005550006",
                "TWILIO_API_BASE": self.base_url}
