"""Rate-limit keys that never hold the client's IP address.

The bucket key is an HMAC of the address with a key made at process start and never
stored, so the limiter's storage holds only opaque values, and only for its window.
Behind a proxy, `TRUSTED_PROXIES` makes ProxyFix put the real client in remote_addr.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import request
from flask_limiter import Limiter

_PROCESS_KEY = secrets.token_bytes(32)


def client_key() -> str:
    address = request.remote_addr or ""
    return hmac.new(_PROCESS_KEY, address.encode(), hashlib.sha256).hexdigest()[:32]


# Created here, in the lowest package, so every layer's views can apply limits;
# create_app initialises it with the configured storage.
limiter = Limiter(key_func=client_key, default_limits=[])
