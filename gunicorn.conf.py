"""gunicorn settings for `gunicorn -c gunicorn.conf.py wsgi:app`; every value from the environment."""

import multiprocessing
import os

# gunicorn serves production: never fall back to the development settings (debug, generated
# secrets) because APP_ENV was forgotten. ProductionConfig refuses to start without secrets.
os.environ.setdefault("APP_ENV", "production")

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# The work is CPU-bound Python (one core per process, the GIL) with short database waits:
# one process per core plus one, each with 4 threads to overlap the waits. On 2 cores,
# bench/load.py measured 3 x 4 ahead of 5 x 2 (web +4%, tracker +11%, SMS ahead but noisy)
# and of 2 x 8; more processes than that only switch contexts.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
preload_app = True  # load the classifier once, before forking
accesslog = None  # the app writes its own JSON request log without client addresses
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def when_ready(server):
    """Load the classifier once in the master, so forked workers share it."""
    from app.wiring import warm_up

    warm_up(server.app.wsgi())
