#!/usr/bin/env python3
"""Intake benchmark: accepted submissions per second through the real HTTP server against PostgreSQL.

What it does, in one run:

1. (re)creates the database, runs ``rathaus migrate``, ``rathaus seed-demo --no-cases`` and publishes
   ``tests/fixtures/services/testdienst``;
2. starts ``rathaus serve`` (granian, or gunicorn with ``--server gunicorn``) on a free port and waits for ``/api/v1/health``;
3. warms up, then for each concurrency level runs a closed loop for ``--duration`` seconds: every client
   POSTs ``/api/v1/submissions`` with the service's first form example and waits for the answer; only
   ``201`` counts as accepted; per-request latency is recorded;
4. optionally repeats the highest level with other worker counts (``--sweep-workers``) and
   records a py-spy profile of the workers (``--py-spy``);
5. runs pgbench (TPC-B-like) on the same database as the yardstick and reports the ratio;
6. checks that the database holds exactly the accepted cases (no lost submissions, unique references)
   and counts the SQL queries of one submission (in a Django subprocess).

The load generator is a hand-written asyncio HTTP/1.1 client in one process, so it takes as little of
the CPU the server needs as possible; its own CPU time is reported.

    .venv/bin/python benchmarks/intake.py
    .venv/bin/python benchmarks/intake.py --clients 32 --sweep-workers 2,3,4,5 --json /tmp/bench.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import glob
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "services" / "testdienst"
TENANT = "musterstadt"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# database and server set-up


def db_parts(url: str) -> dict:
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("postgres", "postgresql"):
        sys.exit(f"--db-url must be postgres://…, not {url!r}")
    return {"host": u.hostname or "127.0.0.1", "port": str(u.port or 5432), "user": u.username or "postgres",
            "password": urllib.parse.unquote(u.password or ""), "dbname": (u.path or "/").lstrip("/") or "rathaus_bench"}


def admin_connect(parts: dict, dbname: str):
    import psycopg

    return psycopg.connect(host=parts["host"], port=parts["port"], user=parts["user"],
                           password=parts["password"] or None, dbname=dbname, autocommit=True)


def recreate_database(parts: dict) -> None:
    from psycopg import sql

    with admin_connect(parts, "postgres") as conn:
        name = sql.Identifier(parts["dbname"])
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def drop_database(parts: dict) -> None:
    from psycopg import sql

    with admin_connect(parts, "postgres") as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(parts["dbname"])))


def rathaus(env: dict, *args: str, capture: bool = True) -> str:
    cmd = [sys.executable, "-m", "rathaus", *args]
    p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=capture, text=True)
    if p.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout or ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


REFERENCE_PGBENCH_TPS = 3400  # the issue: pgbench's TPC-B at 32 clients on the reference 2-core machine


class Server:
    def __init__(self, env: dict, workers: int, threads: int, server: str = "granian"):
        self.env, self.workers, self.threads, self.server = env, workers, threads, server
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix="rathaus-bench-server-", suffix=".log", delete=False)

    def start(self) -> None:
        cmd = [sys.executable, "-m", "rathaus", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--quiet", "--workers", str(self.workers), "--threads", str(self.threads), "--server", self.server]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"server exited with {self.proc.returncode}; log: {self.log.name}")
            try:
                status, _ = asyncio.run(http_get("127.0.0.1", self.port, "/api/v1/health"))
                if status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        sys.exit(f"server did not become healthy within 60 s; log: {self.log.name}")

    def worker_pids(self) -> list[int]:
        return children_of(self.proc.pid) if self.proc else []

    def pids(self) -> list[int]:
        return [self.proc.pid, *self.worker_pids()] if self.proc else []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# --------------------------------------------------------------------------------------------------
# CPU accounting from /proc


def children_of(pid: int) -> list[int]:
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.split("/")[2]))
    return sorted(out)


def proc_cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def postgres_pids() -> list[int]:
    out = []
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            if Path(comm).read_text().strip().startswith(("postgres", "postmaster")):
                out.append(int(comm.split("/")[2]))
        except OSError:
            continue
    return out


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    vals = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


class CpuMeter:
    """CPU seconds of the server processes, PostgreSQL, the load generator and the machine over a span."""

    def __init__(self, server: Server):
        self.server = server

    def snapshot(self) -> dict:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        busy, total = machine_busy_seconds()
        # postgres backends come and go (pgbench, migrations); during a load run they persist
        pg = {pid: proc_cpu_seconds(pid) for pid in postgres_pids()}
        return {"t": time.monotonic(), "server": {pid: proc_cpu_seconds(pid) for pid in self.server.pids()},
                "pg": pg, "loadgen": ru.ru_utime + ru.ru_stime, "busy": busy, "total": total}

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        wall = b["t"] - a["t"]
        cap = wall * NCPU

        def tree(key):
            return sum(v - a[key].get(pid, 0.0) for pid, v in b[key].items())

        server, pg, loadgen = tree("server") / cap, tree("pg") / cap, (b["loadgen"] - a["loadgen"]) / cap
        busy = (b["busy"] - a["busy"]) / max(b["total"] - a["total"], 1e-9)
        return {
            "wall_s": round(wall, 2),
            "server_share": round(server, 3),
            "postgres_share": round(pg, 3),
            "loadgen_share": round(loadgen, 3),
            "machine_busy_share": round(busy, 3),
            # everything else: kernel threads, softirqs not charged to a process, other users of the machine
            "other_share": round(max(0.0, busy - server - pg - loadgen), 3),
        }


# --------------------------------------------------------------------------------------------------
# minimal HTTP/1.1 client (asyncio streams, keep-alive when the server allows it)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            close = True
    body = await reader.readexactly(length) if length else b""
    return status, body, close


async def http_get(host: str, port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status, body, _ = await read_response(reader)
        return status, body
    finally:
        writer.close()


def build_post(host: str, port: int, path: str, payload: dict) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    return head + body


@dataclass
class LoadResult:
    clients: int
    elapsed: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)  # accepted requests only
    statuses: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    connects: int = 0
    references: list[str] = field(default_factory=list)
    per_client_ms: list[float] = field(default_factory=list)  # mean latency of each client (connection)

    @property
    def accepted(self) -> int:
        return self.statuses.get(201, 0)

    def summary(self) -> dict:
        lat = sorted(self.latencies_ns)

        def pct(p: float) -> float | None:
            if not lat:
                return None
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1e6, 1)

        return {
            "clients": self.clients,
            "elapsed_s": round(self.elapsed, 2),
            "requests": sum(self.statuses.values()) + sum(self.errors.values()),
            "accepted": self.accepted,
            "accepted_per_s": round(self.accepted / self.elapsed, 1) if self.elapsed else 0.0,
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99),
                           "max": round(lat[-1] / 1e6, 1) if lat else None,
                           "mean": round(sum(lat) / len(lat) / 1e6, 1) if lat else None},
            "non_201": {str(k): v for k, v in sorted(self.statuses.items()) if k != 201},
            "errors": dict(self.errors),
            "connections_opened": self.connects,
            # keep-alive connections stay with the worker that accepted them: with 32 clients on 2 workers a
            # 14/18 split gives the 18 a slower answer for the whole run (seen: 58 vs 73 ms), which is the p99
            "client_mean_ms": {"min": round(min(self.per_client_ms), 1), "max": round(max(self.per_client_ms), 1)}
            if self.per_client_ms else None,
        }


async def run_load(host: str, port: int, request: bytes, clients: int, duration: float,
                   keep_references: bool = True) -> LoadResult:
    res = LoadResult(clients=clients)
    perf = time.perf_counter_ns
    stop_at = perf() + int(duration * 1e9)

    async def client() -> None:
        reader = writer = None
        own: list[int] = []
        while perf() < stop_at:
            t0 = perf()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                    res.connects += 1
                writer.write(request)
                status, body, close = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                res.errors[type(e).__name__] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
                continue
            t1 = perf()
            res.statuses[status] += 1
            if status == 201:
                res.latencies_ns.append(t1 - t0)
                own.append(t1 - t0)
                if keep_references:
                    # cheap extraction instead of a full JSON parse: "reference":"TST-2025-000001"
                    i = body.find(b'"reference"')
                    if i >= 0:
                        j = body.index(b'"', body.index(b":", i) + 1) + 1
                        res.references.append(body[j:body.index(b'"', j)].decode())
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()
        if own:
            res.per_client_ms.append(sum(own) / len(own) / 1e6)

    t = perf()
    await asyncio.gather(*(client() for _ in range(clients)))
    res.elapsed = (perf() - t) / 1e9
    return res


# --------------------------------------------------------------------------------------------------
# pgbench, py-spy, checks


def run_pgbench(pgbench: str, parts: dict, clients: int, duration: int, scale: int) -> dict:
    env = {**os.environ, "PGPASSWORD": parts["password"]} if parts["password"] else dict(os.environ)
    conn = ["-h", parts["host"], "-p", parts["port"], "-U", parts["user"]]
    t0 = time.monotonic()
    p = subprocess.run([pgbench, "-i", "-q", "-s", str(scale), *conn, parts["dbname"]],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        return {"error": f"pgbench -i failed: {p.stderr.strip()[-500:]}"}
    init_s = time.monotonic() - t0
    jobs = min(NCPU, clients)
    cmd = [pgbench, "-c", str(clients), "-j", str(jobs), "-T", str(duration), "-M", "prepared", *conn,
           parts["dbname"]]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    m = re.search(r"tps = ([\d.]+)", p.stdout)
    lat = re.search(r"latency average = ([\d.]+) ms", p.stdout)
    if p.returncode != 0 or not m:
        return {"error": f"pgbench failed: {(p.stderr or p.stdout).strip()[-500:]}"}
    return {"command": " ".join([Path(pgbench).name, *cmd[1:]]), "scale": scale, "clients": clients,
            "jobs": jobs, "tps": float(m.group(1)), "latency_avg_ms": float(lat.group(1)) if lat else None,
            "init_s": round(init_s, 1)}


def collapse_profile(raw: str, top: int = 25) -> dict:
    """Summarise py-spy's collapsed stacks: self time per frame and inclusive time per rathaus frame."""
    self_t: collections.Counter = collections.Counter()
    incl: collections.Counter = collections.Counter()
    incl_rathaus: collections.Counter = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        n = int(n)
        total += n
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        self_t[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
            if "rathaus/" in f:
                incl_rathaus[f] += n

    def fmt(c: collections.Counter) -> list[dict]:
        return [{"frame": f, "share": round(v / total, 3)} for f, v in c.most_common(top)] if total else []

    return {"samples": total, "self": fmt(self_t), "inclusive": fmt(incl), "inclusive_rathaus": fmt(incl_rathaus)}


DJANGO_PROBE = r"""
import json, statistics, sys, time
import django
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rathaus.cases.models import Case
from rathaus.tenants.models import ReferenceCounter

payload, refs_file, n = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
expected = set(json.loads(open(refs_file).read()))
rows = list(Case.objects.values_list("reference", flat=True))
check = {"table": Case._meta.db_table, "cases_in_db": len(rows), "distinct_references": len(set(rows)),
         "accepted_by_benchmark": len(expected), "missing": len(expected - set(rows)),
         "unexpected": len(set(rows) - expected)}
client = Client(HTTP_HOST="127.0.0.1")
body = json.dumps(payload)
for _ in range(3):
    with CaptureQueriesContext(connection) as ctx:
        r = client.post("/api/v1/submissions", data=body, content_type="application/json")
queries = [q["sql"][:300] for q in ctx.captured_queries]

# One client, in-process (no HTTP): CPU and wall time per submission, and the part of it spent
# between the first row lock on a per-tenant hot row (the reference counter) and the end of COMMIT.
counter_table = ReferenceCounter._meta.db_table
marks = {}
def wrapper(execute, sql, params, many, context):
    if counter_table in sql and "lock" not in marks:  # the first statement that takes the counter row
        marks["lock"], marks["lock_cpu"] = time.perf_counter(), time.process_time()
        try:
            return execute(sql, params, many, context)
        finally:
            if connection.get_autocommit() and not connection.in_atomic_block:  # one statement, its own commit
                marks["commit"], marks["commit_cpu"] = time.perf_counter(), time.process_time()
    return execute(sql, params, many, context)
orig_commit = connection.commit
def commit():
    orig_commit()
    marks["commit"], marks["commit_cpu"] = time.perf_counter(), time.process_time()
connection.commit = commit
wall, cpu, crit, crit_cpu = [], [], [], []
with connection.execute_wrapper(wrapper):
    for _ in range(n):
        marks.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        client.post("/api/v1/submissions", data=body, content_type="application/json")
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        crit.append(marks["commit"] - marks["lock"])
        crit_cpu.append(marks["commit_cpu"] - marks["lock_cpu"])
connection.commit = orig_commit
med = lambda xs: round(statistics.median(xs) * 1000, 2)
serial = {"request_wall_ms": med(wall), "request_cpu_ms": med(cpu), "locked_section_wall_ms": med(crit),
          "locked_section_cpu_ms": med(crit_cpu), "submissions": n}
print(json.dumps({"check": check, "queries": queries, "single_client_in_process": serial}))
"""


def probe_django(env: dict, payload: dict, references: list[str], n: int = 200) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(references, f)
    try:
        p = subprocess.run([sys.executable, "-c", DJANGO_PROBE, json.dumps(payload), f.name, str(n)], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if p.returncode != 0:
        return {"error": p.stderr.strip()[-1500:]}
    out = json.loads(p.stdout.strip().splitlines()[-1])
    queries = out.pop("queries")
    out["queries_per_submission"] = len(queries)
    out["query_kinds"] = dict(collections.Counter(q.split()[0].upper() if q.split() else "?" for q in queries))
    out["query_sql"] = queries
    return out


# --------------------------------------------------------------------------------------------------
# main


def fmt_row(s: dict, cpu: dict) -> str:
    lat = s["latency_ms"]
    errs = {**s["non_201"], **s["errors"]}
    return (f"{s['clients']:>7} {s['accepted_per_s']:>10.1f} {lat['p50'] or 0:>8.1f} {lat['p90'] or 0:>8.1f} "
            f"{lat['p99'] or 0:>8.1f} {lat['max'] or 0:>8.1f}   {cpu['server_share']:>6.0%} {cpu['postgres_share']:>6.0%} "
            f"{cpu['loadgen_share']:>6.0%} {cpu['other_share']:>6.0%} {cpu['machine_busy_share']:>6.0%}   {errs or '-'}")


HEADER = (f"{'clients':>7} {'accepted/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}   "
          f"{'server':>6} {'pg':>6} {'loadgen':>6} {'other':>6} {'busy':>6}   errors")


class WaitSampler(threading.Thread):
    """Samples pg_stat_activity of the benchmark database: what the app's backends are doing.

    A backend is "idle" (the app is busy in Python or between requests), "active" on the CPU, or waiting,
    e.g. Lock/transactionid or Lock/tuple (a row lock held by another transaction) or IO/WALSync (commit).
    """

    def __init__(self, parts: dict, interval: float = 0.05):
        super().__init__(daemon=True)
        self.parts, self.interval = parts, interval
        self.counts: collections.Counter = collections.Counter()
        self.samples = 0
        self.halt = threading.Event()

    def run(self) -> None:
        try:
            conn = admin_connect(self.parts, self.parts["dbname"])
        except Exception:  # noqa: BLE001
            return
        with conn:
            while not self.halt.wait(self.interval):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE datname = %s "
                    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()", [self.parts["dbname"]],
                ).fetchall()
                self.samples += 1
                for state, wtype, wevent in rows:
                    if state == "active":
                        self.counts[f"{wtype}/{wevent}" if wtype else "active (CPU)"] += 1
                    else:
                        self.counts[state or "?"] += 1

    def result(self) -> dict:
        if not self.samples:
            return {}
        per = {k: round(v / self.samples, 2) for k, v in self.counts.most_common()}
        return {"samples": self.samples, "avg_backends_by_state": per}


def measure(server: Server, request: bytes, clients: int, duration: float,
            parts: dict | None = None) -> tuple[LoadResult, dict, dict]:
    meter = CpuMeter(server)
    sampler = WaitSampler(parts) if parts else None
    if sampler:
        sampler.start()
    a = meter.snapshot()
    res = asyncio.run(run_load("127.0.0.1", server.port, request, clients, duration))
    b = meter.snapshot()
    waits = {}
    if sampler:
        sampler.halt.set()
        sampler.join(timeout=5)
        waits = sampler.result()
    return res, CpuMeter.delta(a, b), waits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default="postgres://postgres@127.0.0.1:5432/rathaus_bench")
    ap.add_argument("--duration", type=float, default=15, help="seconds per concurrency level (and for pgbench)")
    ap.add_argument("--clients", default="1,8,32", help="comma-separated concurrency levels")
    ap.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                    help="`rathaus serve --server` (default granian, keep-alive)")
    ap.add_argument("--workers", type=int, default=0,
                    help="server workers (default as `rathaus serve`: cores for granian, cores + 1 for gunicorn)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads per worker (granian: blocking threads; gunicorn: > 1 means gthread worker)")
    ap.add_argument("--service", default="testdienst", help="service key to submit (its first form example)")
    ap.add_argument("--warmup", type=float, default=3, help="seconds of warm-up load")
    ap.add_argument("--sweep-workers", default="", help="e.g. 2,3,4,5: repeat the highest level with these")
    ap.add_argument("--py-spy", default="", metavar="PATH",
                    help="py-spy binary: profile the workers in an extra run at the highest level")
    ap.add_argument("--pgbench-scale", type=int, default=10)
    ap.add_argument("--no-pgbench", action="store_true")
    ap.add_argument("--json", default="", help="write all results to this file")
    ap.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = ap.parse_args()
    args.workers = args.workers or (NCPU if args.server == "granian" else NCPU + 1)
    levels = [int(x) for x in args.clients.split(",") if x.strip()]
    top = max(levels)

    parts = db_parts(args.db_url)
    data_dir = tempfile.mkdtemp(prefix="rathaus-bench-data-")
    env = {**os.environ, "DATABASE_URL": args.db_url, "RATHAUS_DATA_DIR": data_dir,
           "RATHAUS_SECRET_KEY": "benchmark-secret-key-not-for-production-use-0123456789abcdef",
           "DJANGO_SETTINGS_MODULE": "rathaus.settings", "PYTHONUNBUFFERED": "1"}
    env.pop("RATHAUS_DEBUG", None)
    results: dict = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": NCPU, "cpu_model": cpu_model(), "python": platform.python_version(),
                    "postgres": pg_version(parts)},
        "settings": {"duration_s": args.duration, "clients": levels, "server": args.server, "workers": args.workers,
                     "threads": args.threads, "service": args.service},
    }
    log(f"database {parts['dbname']} on {parts['host']}:{parts['port']}: recreate, migrate, seed")
    t0 = time.monotonic()
    recreate_database(parts)
    rathaus(env, "migrate", "--no-input")
    rathaus(env, "seed-demo", "--no-cases")
    rathaus(env, "services", "load", str(FIXTURE), "--tenant", TENANT)
    results["setup_s"] = round(time.monotonic() - t0, 1)

    references: list[str] = []
    server = Server(env, args.workers, args.threads, args.server)
    try:
        server.start()
        log(f"server on port {server.port}: {args.workers} workers x {args.threads} threads "
            f"(pids {server.pids()})")
        status, body = asyncio.run(http_get("127.0.0.1", server.port, f"/api/v1/services/{args.service}"))
        if status != 200:
            sys.exit(f"GET /api/v1/services/{args.service}: {status} {body[:300]!r}")
        examples = json.loads(body)["form_schema"].get("examples") or []
        if not examples:
            sys.exit(f"service {args.service} has no form_schema.examples")
        payload = {"service": args.service, "data": examples[0]}
        request = build_post("127.0.0.1", server.port, "/api/v1/submissions", payload)
        results["payload"] = payload

        if args.warmup > 0:
            w = asyncio.run(run_load("127.0.0.1", server.port, request, min(8, top), args.warmup))
            references += w.references
            log(f"warm-up: {w.accepted} accepted, statuses {dict(w.statuses)} {dict(w.errors) or ''}")
            if not w.accepted:
                sys.exit(f"no submission accepted during warm-up; server log: {server.log.name}")

        print(f"\nrathaus intake, {args.service}, {args.workers} {args.server} workers, {NCPU} CPUs "
              f"(CPU columns: share of the whole machine)\n{HEADER}", flush=True)
        results["levels"] = []
        for c in levels:
            res, cpu, waits = measure(server, request, c, args.duration, parts)
            references += res.references
            s = res.summary()
            s["cpu"], s["postgres_backends"] = cpu, waits
            results["levels"].append(s)
            print(fmt_row(s, cpu), flush=True)
        print("\nPostgreSQL backends of the app, average number per state (pg_stat_activity samples):")
        for s in results["levels"]:
            states = s["postgres_backends"].get("avg_backends_by_state", {})
            print(f"{s['clients']:>7}  " + ", ".join(f"{k} {v}" for k, v in states.items()), flush=True)
        print("\nMean latency per client connection (keep-alive: a connection stays with the worker that accepted it,"
              "\nso an uneven split of the connections over the workers shows here and in the p99):")
        for s in results["levels"]:
            if s.get("client_mean_ms"):
                print(f"{s['clients']:>7}  fastest {s['client_mean_ms']['min']} ms, slowest {s['client_mean_ms']['max']} ms",
                      flush=True)

        if args.py_spy:
            results["profile"] = profile_run(args, server, request, top, references)
    finally:
        server.stop()

    if args.sweep_workers:
        results["worker_sweep"] = []
        print(f"\nworker sweep at {top} clients\n{'workers':>7} {HEADER}", flush=True)
        for n in [int(x) for x in args.sweep_workers.split(",") if x.strip()]:
            srv = Server(env, n, args.threads, args.server)
            try:
                srv.start()
                w = asyncio.run(run_load("127.0.0.1", srv.port, request, min(8, top), max(1.0, args.warmup)))
                references += w.references
                res, cpu, _ = measure(srv, request, top, args.duration)
            finally:
                srv.stop()
            references += res.references
            s = res.summary()
            s["cpu"], s["workers"] = cpu, n
            results["worker_sweep"].append(s)
            print(f"{n:>7} {fmt_row(s, cpu)}", flush=True)

    if not args.no_pgbench:
        pgbench = find_tool("pgbench")
        if pgbench is None:
            results["pgbench"] = {"error": "pgbench not found"}
        else:
            log(f"pgbench -i -s {args.pgbench_scale}, then {top} clients for {int(args.duration)} s")
            results["pgbench"] = run_pgbench(pgbench, parts, top, int(args.duration), args.pgbench_scale)
        pgb = results["pgbench"]
        if "tps" in pgb:
            print(f"\npgbench (TPC-B-like, scale {pgb['scale']}, {pgb['clients']} clients, -M prepared): "
                  f"{pgb['tps']:.0f} TPS, latency avg {pgb['latency_avg_ms']} ms", flush=True)
        else:
            print(f"\npgbench: {pgb['error']}", flush=True)

    log("checking the database and counting queries of one submission")
    probe = probe_django(env, payload, references)
    results["correctness_and_queries"] = probe
    if "error" in probe:
        print(f"\nprobe failed: {probe['error']}", flush=True)
        ok = False
    else:
        chk = probe["check"]
        ok = (chk["missing"] == 0 and chk["unexpected"] == 0 and chk["cases_in_db"] == chk["distinct_references"]
              == chk["accepted_by_benchmark"])
        print(f"\ncases in DB {chk['cases_in_db']}, distinct references {chk['distinct_references']}, "
              f"accepted by the benchmark {chk['accepted_by_benchmark']}: {'OK' if ok else 'MISMATCH'}")
        print(f"SQL queries per submission: {probe['queries_per_submission']} {probe['query_kinds']}")
        one = probe["single_client_in_process"]
        print(f"one client in-process (no HTTP), median of {one['submissions']}: {one['request_wall_ms']} ms wall, "
              f"{one['request_cpu_ms']} ms CPU per submission; per-tenant locked section (first statement on the reference "
              f"counter .. COMMIT) {one['locked_section_wall_ms']} ms wall, {one['locked_section_cpu_ms']} ms CPU "
              f"-> ceiling {1000 / max(one['locked_section_wall_ms'], 1e-3):.0f} submissions/s per tenant")
    results["consistent"] = ok

    top_level = next((s for s in results.get("levels", []) if s["clients"] == top), None)
    if top_level:
        rate, p99 = top_level["accepted_per_s"], top_level["latency_ms"]["p99"]
        verdict = {"clients": top, "accepted_per_s": rate, "p99_ms": p99,
                   "target": "≥ 500 accepted/s and p99 < 100 ms",
                   "met": bool(rate >= 500 and p99 is not None and p99 < 100)}
        tps = results.get("pgbench", {}).get("tps")
        if tps:
            verdict["pgbench_tps"] = tps
            verdict["ratio_to_pgbench"] = round(rate / tps, 3)
        results["verdict"] = verdict
        ratio = f", {verdict['ratio_to_pgbench']:.1%} of pgbench's TPS" if tps else ""
        state = ("MET" if verdict["met"] else "NOT MET") if top == 32 else "defined at 32 clients only"
        print(f"\nat {top} clients: {rate:.0f} accepted/s, p99 {p99} ms{ratio}; target (≥ 500/s, p99 < 100 ms "
              f"at 32 clients): {state}")
        if tps and top == 32:
            # The issue states its target for a machine where pgbench gives about 3,400 TPS: 500/s there is a
            # ratio of 14.7 %. On a slower or faster machine the ratio is the comparable figure.
            verdict["reference_pgbench_tps"] = REFERENCE_PGBENCH_TPS
            verdict["ratio_target"] = round(500 / REFERENCE_PGBENCH_TPS, 3)
            verdict["ratio_met"] = rate / tps >= 500 / REFERENCE_PGBENCH_TPS
            print(f"as the issue's ratio to pgbench: {rate / tps:.1%} (target {500 / REFERENCE_PGBENCH_TPS:.1%} = 500/s "
                  f"at the reference machine's ≈ {REFERENCE_PGBENCH_TPS:,} TPS; this machine: {tps:,.0f} TPS): "
                  f"{'MET' if verdict['ratio_met'] else 'NOT MET'}")

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log(f"results written to {args.json}")
    if args.drop:
        drop_database(parts)
    else:
        log(f"database {parts['dbname']} kept for inspection (--drop removes it)")
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok else 1


def profile_run(args, server: Server, request: bytes, clients: int, references: list[str]) -> dict:
    """Extra run at the highest level with py-spy sampling all workers (not part of the measured numbers)."""
    duration = max(5, int(args.duration))
    raw = tempfile.NamedTemporaryFile(prefix="rathaus-bench-", suffix=".collapsed", delete=False).name
    cmd = [args.py_spy, "record", "--pid", str(server.proc.pid), "--subprocesses", "--duration", str(duration),
           "--rate", "200", "--nonblocking"]
    log(f"py-spy: profiling the workers for {duration} s at {clients} clients")
    spy = subprocess.Popen([*cmd, "--format", "raw", "--output", raw], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # let py-spy attach
    res = asyncio.run(run_load("127.0.0.1", server.port, request, clients, duration))
    references += res.references
    _, err = spy.communicate(timeout=60)
    if spy.returncode != 0 or not os.path.getsize(raw):
        return {"error": f"py-spy failed: {err.strip()[-500:]}"}
    out = collapse_profile(Path(raw).read_text())
    out["collapsed_file"] = raw
    out["accepted_per_s_while_profiling"] = res.summary()["accepted_per_s"]
    print("\nprofile (py-spy, all workers), inclusive share of samples in rathaus code:")
    for row in out["inclusive_rathaus"][:15]:
        print(f"  {row['share']:6.1%}  {row['frame']}")
    print("self time (top 15):")
    for row in out["self"][:15]:
        print(f"  {row['share']:6.1%}  {row['frame']}")
    return out


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def pg_version(parts: dict) -> str:
    try:
        with admin_connect(parts, "postgres") as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception as e:  # noqa: BLE001
        sys.exit(f"PostgreSQL at {parts['host']}:{parts['port']} not reachable: {e}")


if __name__ == "__main__":
    sys.exit(main())
