"""The app served by a real WSGI server on loopback, in a thread, for HTTP and browser tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.serving import make_server


@contextmanager
def serve(app, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` on a free loopback port; yields the base URL ('http://127.0.0.1:PORT')."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
