#!/usr/bin/env python3
"""Load benchmark: the app under gunicorn on loopback, driven by wrk, figures printed.

    .venv/bin/python bench/load.py [--quick] [--db sqlite|postgres|both] [--profile]

For each database (a fresh SQLite file, and/or a fresh PostgreSQL database created through
the admin URL in --pg-url / BENCH_DATABASE_URL / TEST_DATABASE_URL) it migrates and seeds
with the real commands (`flask --app wsgi migrate`, `seed-demo`), starts
`gunicorn -c gunicorn.conf.py wsgi:app` with production settings (APP_ENV=production,
generated SECRET_KEY/PII_KEYS/HASH_KEY, console gateways, rate limits off) and measures,
with wrk (Debian package `wrk`, Lua scripts below) at --clients concurrent connections:

* web form: a new visitor GETs /report (session cookie + CSRF token), then POSTs the form
  (validate, classify, store, outbox); a submission counts when the POST answers 302 to
  /report/receipt. Half the submissions are named with a phone (an SMS ack is queued);
* SMS webhook: POST /sms/inbound with a valid X-Twilio-Signature, a new MessageSid each;
* tracker: POST /track with a tracking number and receipt code from the SMS replies;
* a bare Flask hello-world (bench/hello_app.py) under the same gunicorn settings, so the
  figures can be read as a machine-independent ratio.

Afterwards it counts the rows and compares them with the acknowledged submissions (none may
be lost; a few more rows than acknowledgements are requests that were in flight when wrk
stopped) and checks that the tracking numbers are unique. Everything it starts (gunicorn,
wrk, databases, temporary files) is stopped or removed on exit, Ctrl-C included.
`--profile` also profiles submissions in-process with pyinstrument and prints where the
time goes. Loopback only; each scenario is bounded by --duration seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
TWILIO_TOKEN = "bench-twilio-auth-token"
TWILIO_ACCOUNT = "AC" + "b" * 32
DEFAULT_MODEL = ROOT / "instance" / "classifier-model.npz"
TARGET_RPS, TARGET_P99_MS, TARGET_RATIO = 300.0, 150.0, 0.40

# --------------------------------------------------------------------------------------
# wrk Lua scripts. Each writes its results to $BENCH_OUT in done(); Python reads them.

LUA_COMMON = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local _ts = ffi.new("bench_timespec")
function now_us()
  ffi.C.clock_gettime(1, _ts)  -- CLOCK_MONOTONIC
  return tonumber(_ts.tv_sec) * 1000000 + tonumber(_ts.tv_nsec) / 1000
end

threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

acks, bad, replays = 0, 0, 0
lat = {}
extra = {}

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  local e = summary.errors
  out:write(string.format("requests %d\nduration_us %d\n", summary.requests, summary.duration))
  out:write(string.format("err_connect %d\nerr_read %d\nerr_write %d\nerr_status %d\nerr_timeout %d\n",
    e.connect, e.read, e.write, e.status, e.timeout))
  out:write(string.format("wrk_p50 %d\nwrk_p99 %d\n", latency:percentile(50), latency:percentile(99)))
  for _, t in ipairs(threads) do
    out:write(string.format("acks %d\nbad %d\nreplays %d\n", t:get("acks"), t:get("bad"), t:get("replays")))
    for _, v in ipairs(t:get("lat")) do out:write("lat ", string.format("%.0f", v), "\n") end
    for _, v in ipairs(t:get("extra")) do out:write("extra ", v, "\n") end
  end
  out:close()
end
"""

# One connection per thread (-t N -c N): GET the form, then POST it with the session
# cookie and CSRF token, then start again as a new visitor.
LUA_WEB = r"""
local state, cookie, token, t_get, t_post, n = "get", nil, nil, 0, 0, 0
local bodies = {}
flow = {}
function init(args)
  for line in io.lines(os.getenv("BENCH_DATA")) do bodies[#bodies + 1] = line end
  n = tid * 7919
  extra = flow
end
function request()
  if state == "get" then
    t_get = now_us()
    return wrk.format("GET", "/report", {}, nil)
  end
  n = n + 1
  t_post = now_us()
  return wrk.format("POST", "/report", {["Cookie"] = cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded"},
    "csrf_token=" .. token .. "&" .. bodies[(n % #bodies) + 1])
end
function response(status, headers, body)
  if state == "get" then
    local c = headers["Set-Cookie"]
    local tok = body:match('name="csrf_token" type="hidden" value="([^"]+)"')
    if status == 200 and c and tok then
      cookie, token, state = c:match("^([^;]+)"), tok, "post"
    else
      bad = bad + 1
    end
    return
  end
  local t = now_us()
  lat[#lat + 1] = t - t_post
  flow[#flow + 1] = string.format("%.0f", t - t_get)
  state = "get"
  local loc = headers["Location"]
  if status == 302 and loc and loc:find("/report/receipt", 1, true) then
    acks = acks + 1
  else
    bad = bad + 1
  end
end
"""

# Many connections per thread: each request is a pre-signed webhook with its own MessageSid
# (the lines of $BENCH_DATA, split between threads). A reply that names a tracking number is
# an acknowledgement; the first few (tracking number, receipt code) pairs are kept for the
# tracker scenario.
LUA_SMS = r"""
local items, idx = {}, 0
function init(args)
  local nthreads, i = tonumber(os.getenv("BENCH_THREADS")), 0
  for line in io.lines(os.getenv("BENCH_DATA")) do
    if i % nthreads == tid then
      local sig, body = line:match("^([^\t]+)\t(.*)$")
      items[#items + 1] = {sig, body}
    end
    i = i + 1
  end
end
function request()
  idx = idx + 1
  if idx > #items then idx = #items; replays = replays + 1 end
  local it = items[idx]
  return wrk.format("POST", "/sms/inbound", {["X-Twilio-Signature"] = it[1],
    ["Content-Type"] = "application/x-www-form-urlencoded"}, it[2])
end
function response(status, headers, body)
  -- Texts written in English are answered in English ("registered as XNJT-...").
  local no = status == 200 and (body:match("受理编号 ([A-Z0-9]+%-%d+%-%d+)")
                                or body:match("registered as ([A-Z0-9]+%-%d+%-%d+)"))
  if no then
    acks = acks + 1
    if #extra < 40 then
      local code = body:match("查询码 ([0-9A-Z][0-9A-Z][0-9A-Z][0-9A-Z]%-[0-9A-Z%-]+)")
      if code then extra[#extra + 1] = no .. " " .. code end
    end
  else
    bad = bad + 1
  end
end
"""

# One connection per thread: GET /track once (session + CSRF token), then look up known
# (tracking number, receipt code) pairs over and over, keeping the session cookie current.
LUA_TRACK = r"""
local state, cookie, token, t0, n = "get", nil, nil, 0, 0
local pairs_ = {}
function init(args)
  for line in io.lines(os.getenv("BENCH_DATA")) do pairs_[#pairs_ + 1] = line end
  n = tid * 13
end
function request()
  if state == "get" then return wrk.format("GET", "/track", {}, nil) end
  n = n + 1
  t0 = now_us()
  return wrk.format("POST", "/track", {["Cookie"] = cookie,
    ["Content-Type"] = "application/x-www-form-urlencoded"},
    "csrf_token=" .. token .. "&" .. pairs_[(n % #pairs_) + 1])
end
function response(status, headers, body)
  local c = headers["Set-Cookie"]
  if c then cookie = c:match("^([^;]+)") end
  if state == "get" then
    local tok = body:match('name="csrf_token" type="hidden" value="([^"]+)"')
    if status == 200 and cookie and tok then token, state = tok, "post" else bad = bad + 1 end
    return
  end
  lat[#lat + 1] = now_us() - t0
  if status == 200 then acks = acks + 1 else bad = bad + 1 end
end
"""

LUA_HELLO = r"""
function response(status, headers, body)
  if status == 200 then acks = acks + 1 else bad = bad + 1 end
end
"""

# --------------------------------------------------------------------------------------
# Processes and clean-up


class Stopper:
    """Everything started here, stopped in reverse order (process groups, databases, dirs)."""

    def __init__(self) -> None:
        self.actions: list[tuple[str, object]] = []

    def process(self, proc: subprocess.Popen) -> subprocess.Popen:
        self.actions.append(("proc", proc))
        return proc

    def callback(self, fn) -> None:
        self.actions.append(("call", fn))

    def stop_process(self, proc: subprocess.Popen, timeout: float = 25.0) -> None:
        if proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)  # its own session: gunicorn + workers
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        with suppress(ValueError):
            self.actions.remove(("proc", proc))

    def close(self) -> None:
        while self.actions:
            kind, item = self.actions.pop()
            try:
                if kind == "proc":
                    self.stop_process(item)  # type: ignore[arg-type]
                else:
                    item()  # type: ignore[operator]
            except Exception as exc:  # keep cleaning up
                print(f"clean-up: {exc}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({proc.returncode}); log:\n"
                               + log.read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def app_env(database_url: str, workdir: Path, port: int, model: Path | None) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    for name in ("TEST_DATABASE_URL", "FLASK_APP"):
        env.pop(name, None)
    env.update({
        "APP_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(48),
        "PII_KEYS": Fernet.generate_key().decode(),
        "HASH_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(workdir),
        "UPLOAD_DIR": str(workdir / "uploads"),
        "CLASSIFIER_MODEL_PATH": str(model or (workdir / "no-model.npz")),
        "RATELIMIT_ENABLED": "false",
        # The benchmark speaks plain HTTP on loopback; behind nginx the cookie is Secure.
        "SESSION_COOKIE_SECURE": "false",
        "SMS_GATEWAY": "console",
        "EMAIL_GATEWAY": "console",
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT,
        "PUBLIC_BASE_URL": f"http://{HOST}:{port}",
        "GUNICORN_BIND": f"{HOST}:{port}",
        "GUNICORN_LOG_LEVEL": "warning",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found (run with the project's .venv/bin/python)")
    return found


def run_flask(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([tool("flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


@contextmanager
def gunicorn(stopper: Stopper, env: dict[str, str], app: str, log: Path,
             ready_path: str) -> Iterator[tuple[str, int]]:
    base = "http://" + env["GUNICORN_BIND"]
    with log.open("ab") as out:
        proc = stopper.process(subprocess.Popen(
            [tool("gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), app], cwd=ROOT, env=env,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
    try:
        wait_http(base + ready_path, proc, log)
        yield base, proc.pid
    finally:
        stopper.stop_process(proc)


# --------------------------------------------------------------------------------------
# wrk


@dataclass
class WrkResult:
    name: str
    seconds: float = 0.0
    requests: int = 0
    acks: int = 0
    bad: int = 0
    replays: int = 0
    socket_errors: int = 0
    status_errors: int = 0
    wrk_p50_ms: float = 0.0
    wrk_p99_ms: float = 0.0
    lat_ms: list[float] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    cpu_server: float = 0.0  # CPU-seconds used by gunicorn (master + workers)
    cpu_wrk: float = 0.0
    cpu_other: float = 0.0  # by everything else on the machine, during the run

    def cores(self, cpu: float) -> float:
        return cpu / self.seconds if self.seconds else 0.0

    @property
    def ok_per_s(self) -> float:
        return self.acks / self.seconds if self.seconds else 0.0

    @property
    def req_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.bad + self.socket_errors

    def pct(self, p: float) -> float:
        if not self.lat_ms:
            return self.wrk_p50_ms if p == 50 else self.wrk_p99_ms
        values = sorted(self.lat_ms)
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    def flow_pct(self, p: float) -> float | None:
        values = sorted(float(v) / 1000 for v in self.extra if v.replace(".", "").isdigit())
        if not values:
            return None
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_cpu() -> float:
    """CPU-seconds the whole machine has been busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(values) - values[3] - values[4]) / CLK_TCK


def tree_cpu(root_pid: int) -> float:
    """CPU-seconds of a process, its live children and its reaped ones (gunicorn)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            rest = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == root_pid:
            # utime + stime, plus cutime + cstime: workers gunicorn recycled (max_requests)
            total += sum(int(v) for v in rest[11:15])
        elif int(rest[1]) == root_pid:
            total += int(rest[11]) + int(rest[12])
    return total / CLK_TCK


def wait_idle(args: argparse.Namespace, server_pid: int | None = None) -> None:
    """Wait (up to --idle-wait s) until other processes use < 0.25 CPU: a shared machine.

    The server's own CPU (requests still in flight from the last scenario) is not "other",
    but it is waited for too: the next scenario starts on a drained server.
    """
    deadline = time.monotonic() + args.idle_wait
    while True:
        before = busy_cpu()
        time.sleep(1.0)
        other = busy_cpu() - before
        if other < 0.25 or time.monotonic() >= deadline:
            if other >= 0.25:
                print(f"  (machine still busy: {other:.2f} CPU used by others"
                      f"{' and the server' if server_pid else ''})", flush=True)
            return


def run_wrk(name: str, base: tuple[str, int], lua: str, workdir: Path, *, seconds: float,
            threads: int, connections: int, data: Path | None = None) -> WrkResult:
    import resource

    base_url, server_pid = base
    script = workdir / f"{name}.lua"
    script.write_text(LUA_COMMON + lua)
    out = workdir / f"{name}.out"
    out.unlink(missing_ok=True)
    env = dict(os.environ, BENCH_OUT=str(out), BENCH_THREADS=str(threads),
               BENCH_DATA=str(data or ""))
    cmd = [shutil.which("wrk") or "wrk", f"-t{threads}", f"-c{connections}",
           f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script),
           base_url + "/"]
    before = (busy_cpu(), tree_cpu(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN))
    result = subprocess.run(cmd, env=env, capture_output=True, text=True,
                            timeout=seconds + 60)
    after = (busy_cpu(), tree_cpu(server_pid), resource.getrusage(resource.RUSAGE_CHILDREN))
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    res = WrkResult(name)
    res.cpu_server = after[1] - before[1]
    res.cpu_wrk = (after[2].ru_utime + after[2].ru_stime) - (before[2].ru_utime
                                                          + before[2].ru_stime)
    res.cpu_other = max(0.0, after[0] - before[0] - res.cpu_server - res.cpu_wrk)
    for line in out.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "lat":
            res.lat_ms.append(float(value) / 1000)
        elif key == "extra":
            res.extra.append(value)
        elif key in ("acks", "bad", "replays"):
            setattr(res, key, getattr(res, key) + int(value))
        elif key == "requests":
            res.requests = int(value)
        elif key == "duration_us":
            res.seconds = int(value) / 1e6
        elif key in ("err_connect", "err_read", "err_write", "err_timeout"):
            res.socket_errors += int(value)
        elif key == "err_status":
            res.status_errors = int(value)
        elif key == "wrk_p50":
            res.wrk_p50_ms = int(value) / 1000
        elif key == "wrk_p99":
            res.wrk_p99_ms = int(value) / 1000
    return res


# --------------------------------------------------------------------------------------
# Request data


def report_texts() -> list[str]:
    path = ROOT / "intake" / "data" / "labelled" / "dev_reports.jsonl"
    texts = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            text = json.loads(line).get("text", "")
            if 20 <= len(text) <= 1500 and not text.startswith(("查询", "满意", "基本满意", "不满意")):
                texts.append(text)
    return texts or ["今天上午在城西区五四大街，执法人员对我的货车只罚款不开票据，车牌青A12345。"]


def mobile(rng: random.Random) -> str:
    return f"+86139{rng.randrange(10**8):08d}"


def web_bodies(path: Path, texts: list[str], rng: random.Random, count: int = 400) -> Path:
    districts = ["", "城东区", "城中区", "城西区", "城北区", "湟中区", "大通县", "湟源县"]
    with path.open("w") as handle:
        for i in range(count):
            fields = {"text": rng.choice(texts), "place_text": "五四大街",
                      "district": rng.choice(districts), "occurred_text": "昨天上午",
                      "plate": "", "consent": "y"}
            if i % 2:
                fields.update(identity="named", name="张先生", phone=mobile(rng)[3:])
            else:
                fields["identity"] = "anonymous"
            handle.write(urllib.parse.urlencode(fields) + "\n")
    return path


def sms_bodies(path: Path, texts: list[str], rng: random.Random, count: int,
               signed_url: str) -> Path:
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(TWILIO_TOKEN)
    with path.open("w") as handle:
        for _ in range(count):
            sid = "SM" + uuid.UUID(int=rng.getrandbits(128)).hex
            params = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": TWILIO_ACCOUNT,
                      "From": mobile(rng), "To": "+15005550006",
                      "Body": rng.choice(texts)[:600], "NumMedia": "0", "NumSegments": "1",
                      "ApiVersion": "2010-04-01"}
            signature = validator.compute_signature(signed_url, params)
            handle.write(signature + "\t" + urllib.parse.urlencode(params) + "\n")
    return path


# --------------------------------------------------------------------------------------
# Databases


def pg_admin_url(args: argparse.Namespace) -> str:
    url = (args.pg_url or os.environ.get("BENCH_DATABASE_URL")
           or os.environ.get("TEST_DATABASE_URL") or "")
    if not url.startswith("postgresql"):
        raise SystemExit("--db postgres needs an admin URL: --pg-url postgresql://USER@HOST:PORT/"
                         "postgres (or BENCH_DATABASE_URL / TEST_DATABASE_URL)")
    return url


def _sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1) if url.startswith(
        "postgresql://") else url


def pg_exec(admin_url: str, sql: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(_sa_url(admin_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


def make_database(kind: str, args: argparse.Namespace, workdir: Path,
                  stopper: Stopper) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    admin = pg_admin_url(args)
    name = f"bench_{uuid.uuid4().hex[:10]}"
    pg_exec(admin, f"CREATE DATABASE {name}")
    stopper.callback(lambda: pg_exec(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    return admin.rsplit("/", 1)[0] + "/" + name


def count_rows(database_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(_sa_url(database_url))
    try:
        with engine.connect() as conn:
            q = conn.exec_driver_sql
            rows = {f"reports_{channel}": n for channel, n in
                    q("SELECT channel, count(*) FROM report GROUP BY channel")}
            rows["reports"] = q("SELECT count(*) FROM report").scalar_one()
            rows["tracking_distinct"] = q(
                "SELECT count(DISTINCT tracking_no) FROM report").scalar_one()
            rows["sms_sid_distinct"] = q(
                "SELECT count(DISTINCT source_ref) FROM report WHERE channel = 'sms'").scalar_one()
            rows["web_named"] = q("SELECT count(*) FROM report WHERE channel = 'web' "
                                  "AND reporter_id IS NOT NULL").scalar_one()
            rows["web_named_acks"] = q(
                "SELECT count(*) FROM message m JOIN report r ON r.id = m.report_id "
                "WHERE r.channel = 'web' AND m.purpose = 'ack'").scalar_one()
            rows["messages"] = q("SELECT count(*) FROM message").scalar_one()
    finally:
        engine.dispose()
    return rows


# --------------------------------------------------------------------------------------
# Scenarios


@dataclass
class DbRun:
    db: str
    web: WrkResult
    sms: WrkResult
    track: WrkResult
    rows: dict[str, int]
    acked_web: int
    acked_sms: int
    log_errors: int


LOG_ERROR_MARKS = ("Traceback", "WORKER TIMEOUT", '"level": "ERROR"')


def log_error_count(log: Path) -> int:
    """Errors in the server log; the first few are printed so a failed check explains itself."""
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [line for line in text.splitlines() if any(m in line for m in LOG_ERROR_MARKS)]
    for line in lines[:3]:
        print(f"  server log: {line[:160]} ... {line[-400:]}", flush=True)
    return sum(text.count(word) for word in LOG_ERROR_MARKS)


def bench_database(kind: str, args: argparse.Namespace, root: Path, stopper: Stopper,
                   rng: random.Random, texts: list[str]) -> DbRun:
    workdir = root / kind
    workdir.mkdir()
    port = free_port()
    model = args.model if args.model and args.model.exists() else None
    database_url = make_database(kind, args, workdir, stopper)
    env = app_env(database_url, workdir, port, model)
    print(f"[{kind}] migrate + seed-demo ...", flush=True)
    run_flask(env, "migrate")
    run_flask(env, "seed-demo")
    log = workdir / "gunicorn.log"
    c = args.clients
    warm = args.warmup
    web_data = web_bodies(workdir / "web.txt", texts, rng)
    signed_url = f"http://{HOST}:{port}/sms/inbound"
    sms_data = sms_bodies(workdir / "sms.txt", texts, rng,
                          int(args.duration * args.sms_rate_budget) + c, signed_url)
    with gunicorn(stopper, env, "wsgi:app", log, "/report") as base:
        print(f"[{kind}] gunicorn up at {base}; warming up and measuring "
              f"({args.duration:.0f}s per scenario, {c} clients)", flush=True)
        # Warm-up: each worker process loads the classifier (jieba dictionary, model) on its
        # first report, so warm until the rate stops climbing.
        sms_threads = min(4, c)
        warm_sms_acks, warm_extra, rates = 0, [], []
        for attempt in range(8):
            data = sms_bodies(workdir / f"sms-warm{attempt}.txt", texts, rng,
                              int(warm * args.sms_rate_budget) + c, signed_url)
            wait_idle(args, base[1])
            chunk = run_wrk("sms-warm", base, LUA_SMS, workdir, seconds=warm,
                            threads=sms_threads, connections=c, data=data)
            warm_sms_acks += chunk.acks
            warm_extra += chunk.extra
            rates.append(chunk.ok_per_s)
            if len(rates) >= 2 and rates[-1] > 0 and rates[-1] <= rates[-2] * 1.2:
                break
        print(f"[{kind}] warm-up SMS rates: {', '.join(f'{r:.0f}/s' for r in rates)}",
              flush=True)
        wait_idle(args, base[1])
        sms = run_wrk("sms", base, LUA_SMS, workdir, seconds=args.duration,
                      threads=sms_threads, connections=c, data=sms_data)
        warm_web = run_wrk("web-warm", base, LUA_WEB, workdir, seconds=warm, threads=c,
                           connections=c, data=web_data)
        wait_idle(args, base[1])
        web = run_wrk("web", base, LUA_WEB, workdir, seconds=args.duration, threads=c,
                      connections=c, data=web_data)
        found = [line for line in warm_extra + sms.extra if " " in line]
        track_data = workdir / "track.txt"
        track_data.write_text("".join(
            urllib.parse.urlencode({"tracking_no": no, "receipt_code": code}) + "\n"
            for no, code in (line.split(" ", 1) for line in found[:200])))
        if found:
            wait_idle(args, base[1])
            track = run_wrk("track", base, LUA_TRACK, workdir,
                            seconds=args.duration, threads=c, connections=c, data=track_data)
        else:
            track = WrkResult("track")
    rows = count_rows(database_url)
    return DbRun(kind, web, sms, track, rows, warm_web.acks + web.acks,
                 warm_sms_acks + sms.acks, log_error_count(log))


def bench_hello(args: argparse.Namespace, root: Path, stopper: Stopper) -> WrkResult:
    workdir = root / "hello"
    workdir.mkdir()
    port = free_port()
    env = dict(os.environ, GUNICORN_BIND=f"{HOST}:{port}", GUNICORN_LOG_LEVEL="warning")
    with gunicorn(stopper, env, "bench.hello_app:app", workdir / "gunicorn.log", "/") as base:
        lua = LUA_HELLO
        run_wrk("hello-warm", base, lua, workdir, seconds=args.warmup, threads=2,
                connections=args.clients)
        wait_idle(args, base[1])
        return run_wrk("hello", base, lua, workdir, seconds=args.duration, threads=2,
                       connections=args.clients)


# --------------------------------------------------------------------------------------
# Profile (in-process, pyinstrument): where a submission's time goes


CATEGORIES = [  # first match wins, walking the call tree from the top
    ("receipt-code hash", lambda f: f.function in ("hash_code", "check_code")
     and f.file_path.endswith("/intake/receipts.py")),
    ("classification (jieba, model)", lambda f: "/intake/classification/" in f.file_path),
    ("template rendering", lambda f: f.function in ("render_template", "_render")
     and ("flask" in f.file_path or "jinja2" in f.file_path)),
    ("database (SQLAlchemy + driver)", lambda f: any(
        s in f.file_path for s in ("/sqlalchemy/", "/psycopg/", "/sqlite3/", "/sqlmodel/"))),
    ("PII encryption (Fernet)", lambda f: "/cryptography/" in f.file_path),
    ("CSRF / session signing", lambda f: any(
        s in f.file_path for s in ("/flask_wtf/", "/itsdangerous/"))),
]


def _in(path: str, *names: str):
    """A frame matcher: one of the functions `names` in a file ending with `path`."""
    return lambda f: f.file_path.endswith(path) and (not names or f.function in names)


# By step of the request (first match wins, walking from the top). A "container" step takes
# its own time and whatever of its callees no later step claims.
STEPS = [
    ("auto-dispatch (assignment, deadlines, notices)", _in("/routing/dispatch.py", "auto_dispatch")),
    ("receipt-code hash", _in("/intake/receipts.py", "hash_code", "check_code")),
    ("classification", lambda f: f.file_path.endswith("/app/wiring.py") and f.function == "classify"
     or "/intake/classification/" in f.file_path),
    ("tracking counter", _in("/intake/receipts.py", "next_tracking_no")),
    ("duplicate check", _in("/intake/registration.py", "_find_duplicate")),
    ("sanitising (bleach)", _in("/intake/sanitize.py", "clean_text")),
    ("commit", lambda f: f.function == "commit" and "/sqlalchemy/" in f.file_path),
    ("tracker: find + public view", _in("/intake/tracking.py")),
    ("campaign lookup", lambda f: "/notices/campaigns.py" in f.file_path
     or f.function == "active_campaign"),
    ("template rendering", lambda f: f.function in ("render_template", "_render")
     and ("flask" in f.file_path or "jinja2" in f.file_path)),
    ("form, CSRF, session cookie", lambda f: any(
        s in f.file_path for s in ("/flask_wtf/", "/wtforms/", "/itsdangerous/"))
     or f.function in ("save_session", "open_session")),
]
CONTAINERS = [("registration: validation, inserts, flushes",
               _in("/intake/registration.py", "register"))]


def _attribute_steps(frame, totals: dict[str, float], default: str = "other (Flask, "
                     "Werkzeug, limiter, Babel, SMS/TwiML)") -> None:
    for name, match in STEPS:
        if frame.file_path and match(frame):
            totals[name] = totals.get(name, 0.0) + frame.time
            return
    for name, match in CONTAINERS:
        if frame.file_path and match(frame):
            default = name
    own = frame.time - sum(child.time for child in frame.children)
    totals[default] = totals.get(default, 0.0) + max(0.0, own)
    for child in frame.children:
        _attribute_steps(child, totals, default)


def _attribute(frame, totals: dict[str, float]) -> None:
    for name, match in CATEGORIES:
        if frame.file_path and match(frame):
            totals[name] = totals.get(name, 0.0) + frame.time
            return
    if not frame.children:
        totals["other"] = totals.get("other", 0.0) + frame.time
        return
    own = frame.time - sum(child.time for child in frame.children)
    totals["other"] = totals.get("other", 0.0) + max(0.0, own)
    for child in frame.children:
        _attribute(child, totals)


def profile_submissions(args: argparse.Namespace, root: Path, stopper: Stopper,
                        rng: random.Random, texts: list[str]) -> None:
    from pyinstrument import Profiler

    kind = "postgres" if args.db in ("postgres", "both") else "sqlite"
    workdir = root / "profile"
    workdir.mkdir()
    port = free_port()
    model = args.model if args.model and args.model.exists() else None
    database_url = make_database(kind, args, workdir, stopper)
    env = app_env(database_url, workdir, port, model)
    env["JSON_LOGS"] = "false"
    run_flask(env, "migrate")
    run_flask(env, "seed-demo")
    os.environ.update(env)  # config.py reads the environment on import
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    import logging

    from twilio.request_validator import RequestValidator

    from app import create_app

    app = create_app("production")
    logging.getLogger().setLevel(logging.WARNING)
    client = app.test_client()
    token_re = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
    web_lines = web_bodies(workdir / "web.txt", texts, rng).read_text().splitlines()
    validator = RequestValidator(TWILIO_TOKEN)

    def web_submission(i: int) -> None:
        client.delete_cookie("session")
        page = client.get("/report").get_data(as_text=True)
        body = "csrf_token=" + token_re.search(page).group(1) + "&" + web_lines[i % len(web_lines)]
        response = client.post("/report", data=body,
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 302, response.status_code

    receipts: list[tuple[str, str]] = []
    receipt_re = re.compile(r"受理编号 ([A-Z0-9]+-\d+-\d+).*?查询码 ([0-9A-Z-]{19})")
    acknowledged = re.compile(r"受理编号 |registered as ")  # English texts: English replies

    def sms_submission(i: int) -> None:
        sid = "SM" + secrets.token_hex(16)
        params = {"MessageSid": sid, "AccountSid": TWILIO_ACCOUNT, "From": mobile(rng),
                  "To": "+15005550006", "Body": rng.choice(texts)[:600]}
        url = f"http://{HOST}:{port}/sms/inbound"
        response = client.post("/sms/inbound", data=params, headers={
            "X-Twilio-Signature": validator.compute_signature(url, params)})
        reply = response.get_data(as_text=True)
        assert response.status_code == 200 and acknowledged.search(reply)
        found = receipt_re.search(reply)
        if found and len(receipts) < 200:
            receipts.append(found.groups())

    track_token: list[str] = []

    def tracker_lookup(i: int) -> None:
        if not track_token:
            page = client.get("/track").get_data(as_text=True)
            track_token.append(token_re.search(page).group(1))
        number, code = receipts[i % len(receipts)]
        body = urllib.parse.urlencode({"csrf_token": track_token[0], "tracking_no": number,
                                       "receipt_code": code})
        response = client.post("/track", data=body,
                               content_type="application/x-www-form-urlencoded")
        assert response.status_code == 200, response.status_code

    count = 40 if args.quick else 200
    print(f"\nProfile (pyinstrument, in-process test client, {kind}, production settings, "
          f"{count} requests each; gunicorn and HTTP parsing not included)")
    for label, submit in (("web form GET+POST", web_submission), ("SMS webhook", sms_submission),
                          ("tracker lookup", tracker_lookup)):
        for i in range(5):
            submit(i)  # warm: classifier, templates, connection pool
        profiler = Profiler(interval=0.0005)
        started, cpu_started = time.perf_counter(), time.thread_time()
        profiler.start()
        for i in range(count):
            submit(i)
        profiler.stop()
        wall = time.perf_counter() - started
        cpu = time.thread_time() - cpu_started
        totals: dict[str, float] = {}
        steps: dict[str, float] = {}
        session = profiler.last_session
        _attribute(session.root_frame(), totals)
        _attribute_steps(session.root_frame(), steps)
        sampled = sum(totals.values()) or 1.0
        print(f"  {label}: {wall / count * 1000:.1f} ms per request, {cpu / count * 1000:.1f} ms "
              f"of it on the CPU (single thread, no concurrency; profiler overhead included)")
        print("    by library:")
        for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
            print(f"      {name:<46} {seconds / count * 1000:7.2f} ms  {seconds / sampled:6.1%}")
        print("    by step:")
        sampled = sum(steps.values()) or 1.0
        for name, seconds in sorted(steps.items(), key=lambda kv: -kv[1]):
            print(f"      {name:<46} {seconds / count * 1000:7.2f} ms  {seconds / sampled:6.1%}")
        out = workdir.parent / f"profile-{label.split()[0]}.txt"
        text = profiler.output_text(unicode=True, color=False, show_all=False)
        out.write_text(text)
        if args.profile_out:
            args.profile_out.mkdir(parents=True, exist_ok=True)
            shutil.copy(out, args.profile_out / out.name)
            (args.profile_out / f"profile-{label.split()[0]}.html").write_text(
                profiler.output_html())
    app.extensions["engine"].dispose()


# --------------------------------------------------------------------------------------
# Report


def machine() -> str:
    cpu = platform.processor() or ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    gunicorn_version = subprocess.run([tool("gunicorn"), "--version"], capture_output=True,
                                      text=True).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    wrk_line = (wrk_version.stdout or wrk_version.stderr).splitlines()[0:1]
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), "
            f"Python {platform.python_version()}, {gunicorn_version}, "
            f"{' '.join(wrk_line).split(' [')[0]}; load average now "
            f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def cpu_cols(res: WrkResult) -> str:
    return (f"{res.cores(res.cpu_server):.2f}/{res.cores(res.cpu_wrk):.2f}/"
            f"{res.cores(res.cpu_other):.2f}")


def per_cpu(res: WrkResult) -> float:
    return res.acks / res.cpu_server if res.cpu_server else 0.0


def print_report(args: argparse.Namespace, hello: WrkResult, runs: list[DbRun]) -> int:
    import runpy

    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))  # the settings gunicorn used
    workers, threads = conf["workers"], conf["threads"]
    print("\n" + "=" * 100)
    print(f"Machine: {machine()}")
    print(f"gunicorn.conf.py: {workers} workers x {threads} threads (gthread); "
          f"{args.clients} concurrent clients; {args.duration:.0f}s per scenario after "
          f"{args.warmup:.0f}s warm-up; loopback")
    header = (f"{'db':<9}{'scenario':<30}{'ok/s':>8}{'HTTP req/s':>11}{'p50 ms':>8}"
              f"{'p99 ms':>8}{'errors':>8}{'vs hello':>10}{'CPU app/wrk/other':>19}"
              f"{'ok/app-CPU-s':>14}")
    print(header)
    print("-" * len(header))
    hello_rate = hello.req_per_s
    print(f"{'-':<9}{'hello world (GET /)':<30}{hello.ok_per_s:>8.1f}{hello_rate:>11.1f}"
          f"{hello.wrk_p50_ms:>8.1f}{hello.wrk_p99_ms:>8.1f}{hello.errors:>8}{'100%':>10}"
          f"{cpu_cols(hello):>19}{per_cpu(hello):>14.1f}")
    failures = 0
    for run in runs:
        for label, res in (("web form (GET + POST)", run.web),
                           ("SMS webhook (signed)", run.sms),
                           ("tracker lookup (POST /track)", run.track)):
            ratio = res.ok_per_s / hello_rate if hello_rate else 0.0
            print(f"{run.db:<9}{label:<30}{res.ok_per_s:>8.1f}{res.req_per_s:>11.1f}"
                  f"{res.pct(50):>8.1f}{res.pct(99):>8.1f}{res.errors:>8}{ratio:>10.1%}"
                  f"{cpu_cols(res):>19}{per_cpu(res):>14.1f}")
        flow50, flow99 = run.web.flow_pct(50), run.web.flow_pct(99)
        if flow50 is not None:
            print(f"{'':<9}  web latency above is the POST; whole GET+POST: "
                  f"p50 {flow50:.1f} ms, p99 {flow99:.1f} ms")
    print("\nCPU app/wrk/other: cores kept busy during the scenario by gunicorn, by wrk, and by "
          "everything else on the machine (a shared machine inflates the last one).")
    print("ok/app-CPU-s: acknowledged submissions per CPU-second gunicorn used: the capacity "
          "figure that does not depend on what else ran; on N idle cores expect about N times "
          "it, less wrk's share.")
    print("ok/s: acknowledged submissions (web: POST answered 302 to the receipt; SMS: TwiML "
          "reply with a tracking number) or successful lookups per second.")
    print("\nRows counted afterwards (warm-up included):")
    for run in runs:
        rows = run.rows
        web_rows, sms_rows = rows.get("reports_web", 0), rows.get("reports_sms", 0)
        lost_web = max(0, run.acked_web - web_rows)
        lost_sms = max(0, run.acked_sms - sms_rows)
        unique = rows["tracking_distinct"] == rows["reports"]
        one_per_sid = rows["sms_sid_distinct"] == sms_rows
        acks_ok = rows["web_named_acks"] == rows["web_named"]
        print(f"  {run.db}: web acknowledged {run.acked_web}, stored {web_rows} (lost {lost_web},"
              f" {web_rows - run.acked_web - lost_web} stored but in flight at stop); "
              f"SMS acknowledged {run.acked_sms}, stored {sms_rows} (lost {lost_sms}); "
              f"tracking numbers unique: {'yes' if unique else 'NO'}; one report per "
              f"MessageSid: {'yes' if one_per_sid else 'NO'}; named web reports with a "
              f"queued ack: {rows['web_named_acks']}/{rows['web_named']}; "
              f"server log errors: {run.log_errors}")
        errors = run.web.errors + run.sms.errors + run.track.errors + run.log_errors
        print(f"  {run.db}: errors {errors} (web {run.web.errors}, SMS {run.sms.errors}, "
              f"tracker {run.track.errors}, server log {run.log_errors}); SMS bodies "
              f"re-sent because the pre-signed set ran out: {run.sms.replays}")
        if lost_web or lost_sms or not unique or not one_per_sid or errors or not acks_ok:
            failures += 1
    print("\nIssue 8 targets (PostgreSQL, web submission and SMS webhook each: "
          f">= {TARGET_RPS:.0f}/s, p99 < {TARGET_P99_MS:.0f} ms, >= {TARGET_RATIO:.0%} of "
          "hello-world, zero errors, zero lost):")
    for run in runs:
        if run.db != "postgres":
            continue
        for label, res in (("web form", run.web), ("SMS webhook", run.sms)):
            ratio = res.ok_per_s / hello_rate if hello_rate else 0.0
            checks = [f"{res.ok_per_s:.0f}/s {'ok' if res.ok_per_s >= TARGET_RPS else 'MISSED'}",
                      f"p99 {res.pct(99):.0f} ms "
                      f"{'ok' if res.pct(99) < TARGET_P99_MS else 'MISSED'}",
                      f"{ratio:.1%} of hello {'ok' if ratio >= TARGET_RATIO else 'MISSED'}",
                      f"errors {res.errors} {'ok' if res.errors == 0 else 'MISSED'}"]
            print(f"  {label}: " + "; ".join(checks))
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run (4 s per scenario)")
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--pg-url", help="PostgreSQL admin URL (a role that may create "
                        "databases); default BENCH_DATABASE_URL or TEST_DATABASE_URL")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, help="seconds per scenario (default 15)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds (default 3)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="trained classifier model (default instance/classifier-model.npz;"
                        " the baseline classifier when missing)")
    parser.add_argument("--sms-rate-budget", type=int, default=1500,
                        help="pre-signed webhooks generated per second of run")
    parser.add_argument("--profile", action="store_true",
                        help="also profile submissions in-process with pyinstrument")
    parser.add_argument("--profile-only", action="store_true",
                        help="only the in-process profile, no load run")
    parser.add_argument("--profile-out", type=Path, help="keep the profiles (text and HTML)")
    parser.add_argument("--idle-wait", type=float, default=60.0,
                        help="before each scenario wait up to this long for the machine to be "
                        "idle (others using < 0.25 CPU)")
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    args.duration = args.duration or (4.0 if args.quick else 15.0)
    args.warmup = args.warmup if args.warmup is not None else 3.0
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    if "postgres" in kinds:
        pg_admin_url(args)
    args.profile = args.profile or args.profile_only
    if args.profile:
        import importlib.util

        if importlib.util.find_spec("pyinstrument") is None:
            raise SystemExit("--profile needs pyinstrument: .venv/bin/pip install pyinstrument")

    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupted)
    stopper = Stopper()
    root = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    stopper.callback(lambda: shutil.rmtree(root, ignore_errors=True))
    rng = random.Random(args.seed)
    texts = report_texts()
    sys.path.insert(0, str(ROOT))
    try:
        print(f"Benchmark in {root} (removed afterwards)", flush=True)
        if args.profile_only:
            profile_submissions(args, root, stopper, rng, texts)
            return 0
        hello = bench_hello(args, root, stopper)
        print(f"hello world: {hello.req_per_s:.0f} req/s", flush=True)
        runs = [bench_database(kind, args, root, stopper, rng, texts) for kind in kinds]
        status = print_report(args, hello, runs)
        if args.profile:
            profile_submissions(args, root, stopper, rng, texts)
        return status
    except KeyboardInterrupt:
        print("\ninterrupted; stopping everything started", file=sys.stderr)
        return 130
    finally:
        stopper.close()


if __name__ == "__main__":
    sys.exit(main())
