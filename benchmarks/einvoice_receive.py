#!/usr/bin/env python3
"""E-invoice receive benchmark: accepted invoices per second through the whole receive path on PostgreSQL.

What it does, in one run:

1. (re)creates the database, runs ``rathaus migrate`` and ``rathaus seed-demo --no-cases`` and issues an
   API token for the treasury user ``kasse`` (``rathaus token kasse``);
2. pre-generates ``--invoices`` distinct valid XRechnung 3.0 invoices to the demo tenant's Leitweg-ID
   (UBL from ``demo.einvoices.demo_invoice_for``, a share as CII from ``demo_cii_invoice_for``; 1-12 lines,
   several sellers, unique invoice numbers, so none is a duplicate);
3. starts ``rathaus serve`` (gunicorn, default workers) and, after a warm-up, POSTs them to
   ``/api/v1/einvoices`` (``application/xml``, bearer token) from 1, 4 and 16 concurrent clients (closed loop,
   every invoice sent once); only ``201`` with status ``in_review`` counts as accepted;
4. checks that the database holds exactly the accepted invoices, all ``in_review``, each with its stored
   document (file on disk, same SHA-256) and an approval case;
5. in a Django subprocess, one core, no HTTP: CPU milliseconds per invoice for each phase of
   ``receive_invoice`` (store, validate by level, parse, route + duplicate check, start of the case), the
   PostgreSQL backend's CPU, and the SQL statements of one invoice.

Load generator, CPU accounting and server handling come from ``benchmarks/intake.py``.

    .venv/bin/python benchmarks/einvoice_receive.py
    .venv/bin/python benchmarks/einvoice_receive.py --invoices 3000 --clients 1,4,16 --json /tmp/einv-recv.json
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from intake import (  # noqa: E402
    NCPU,
    CpuMeter,
    Server,
    WaitSampler,
    admin_connect,
    cpu_model,
    db_parts,
    drop_database,
    log,
    pg_version,
    proc_cpu_seconds,
    read_response,
    recreate_database,
)

ROOT = Path(__file__).resolve().parent.parent
TENANT = "musterstadt"
PATH = "/api/v1/einvoices"

# --------------------------------------------------------------------------------------------------
# invoices

GENERATE = r"""
import json, sys, random
from decimal import Decimal
import django
django.setup()
from rathaus.tenants.models import Tenant
from rathaus.demo import einvoices as demo

n, cii_share, out, seed = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rnd = random.Random(seed)
t = Tenant.objects.get(slug=sys.argv[5])
sellers = [demo.DemoSeller(), *[demo.DemoSeller(name=f"Lieferant {i} GmbH", vat_id=f"DE{100000000 + i * 7919}",
                                              email=f"rechnung@lieferant{i}.example") for i in range(1, 8)]]
items = [("Kopierpapier A4, 80 g/m²", "21.50"), ("Ordner A4, 8 cm, blau", "1.90"), ("Toner schwarz", "89.00"),
         ("Wartung Kopierer, Stunde", "95.00"), ("Streusalz, 25 kg", "12.40"), ("Druckerpatrone", "34.99")]
cii = demo.demo_cii_invoice_for if hasattr(demo, "demo_cii_invoice_for") else None
with open(out, "w") as f:
    for i in range(n):
        lines = [demo.DemoLine(*rnd.choice(items)[:1], Decimal(rnd.randint(1, 40)), Decimal(rnd.choice(items)[1]),
                               Decimal(rnd.choice(["19", "19", "7"])))
                 for _ in range(rnd.randint(1, 12))]
        kw = {"lines": lines, "seller": rnd.choice(sellers)}
        number = f"BENCH-{seed}-{i:06d}"
        if cii is not None and rnd.random() < cii_share:
            xml, syntax = cii(t, number, **kw), "CII"
        else:
            xml, syntax = demo.demo_invoice_for(t, number, **kw), "UBL"
        f.write(json.dumps({"number": number, "syntax": syntax, "xml": xml.decode("utf-8")}) + "\n")
"""


def generate_invoices(env: dict, n: int, cii_share: float, seed: int) -> list[dict]:
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = f.name
    try:
        p = subprocess.run([sys.executable, "-c", GENERATE, str(n), str(cii_share), path, str(seed), TENANT],
                           cwd=ROOT, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"generating invoices failed:\n{p.stderr[-2000:]}")
        with open(path, encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]
    finally:
        os.unlink(path)


def build_request(port: int, token: str, body: bytes) -> bytes:
    head = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/xml\r\n"
            f"Accept: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode() + body


# --------------------------------------------------------------------------------------------------
# load: a closed loop over a fixed list of distinct requests (each invoice is sent exactly once)


class Result:
    def __init__(self, clients: int):
        self.clients = clients
        self.elapsed = 0.0
        self.latencies_ns: list[int] = []
        self.statuses: collections.Counter = collections.Counter()
        self.invoice_states: collections.Counter = collections.Counter()
        self.errors: collections.Counter = collections.Counter()
        self.accepted_ids: list[int] = []
        self.sent = 0

    def summary(self) -> dict:
        lat = sorted(self.latencies_ns)

        def pct(p: float) -> float | None:
            return round(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1e6, 1) if lat else None

        accepted = len(self.accepted_ids)
        return {
            "clients": self.clients, "sent": self.sent, "accepted": accepted, "elapsed_s": round(self.elapsed, 2),
            "accepted_per_s": round(accepted / self.elapsed, 1) if self.elapsed else 0.0,
            "latency_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99),
                           "max": round(lat[-1] / 1e6, 1) if lat else None},
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "invoice_states": dict(self.invoice_states), "errors": dict(self.errors),
        }


async def run_load(port: int, requests: list[bytes], clients: int) -> Result:
    res = Result(clients)
    queue = collections.deque(requests)
    perf = time.perf_counter_ns

    async def client() -> None:
        reader = writer = None
        while queue:
            req = queue.popleft()
            res.sent += 1
            t0 = perf()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(req)
                status, body, close = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as e:
                res.errors[type(e).__name__] += 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                continue
            t1 = perf()
            res.statuses[status] += 1
            if status == 201:
                out = json.loads(body)
                res.invoice_states[out["status"]] += 1
                if out["status"] == "in_review":
                    res.accepted_ids.append(out["id"])
                    res.latencies_ns.append(t1 - t0)
            if close:
                writer.close()
                reader = writer = None
        if writer is not None:
            writer.close()

    t = perf()
    await asyncio.gather(*(client() for _ in range(clients)))
    res.elapsed = (perf() - t) / 1e9
    return res


# --------------------------------------------------------------------------------------------------
# in a Django subprocess: correctness check, SQL of one invoice, CPU per phase


PROBE = r"""
import collections, hashlib, json, os, statistics, sys, time
import django
django.setup()
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rathaus.einvoice import parse as parse_mod, services, validation
from rathaus.einvoice.models import EInvoice
from rathaus.documents import services as doc_services
from rathaus.tenants.models import Tenant

accepted_file, invoices_file, n_phase, token = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
accepted = set(json.load(open(accepted_file)))

# 1. the database holds exactly the accepted invoices, all in_review, with document and case
rows = list(EInvoice.objects.select_related("document").values_list(
    "id", "status", "case_id", "sha256", "document__file", "document__sha256"))
ids = {r[0] for r in rows}
bad_doc = 0
for _id, _st, _case, sha, fname, dsha in rows:
    try:
        with open(os.path.join(os.environ["RATHAUS_DATA_DIR"], fname), "rb") as fh:
            ok = hashlib.sha256(fh.read()).hexdigest() == sha
    except OSError:
        ok = False
    bad_doc += (not ok) or (dsha not in ("", None, sha))
check = {"einvoices_in_db": len(rows), "accepted_by_benchmark": len(accepted),
         "missing": len(accepted - ids), "unexpected": len(ids - accepted),
         "not_in_review": sum(r[1] != "in_review" for r in rows), "without_case": sum(r[2] is None for r in rows),
         "cases_distinct": len({r[2] for r in rows if r[2]}),
         "document_missing_or_changed": bad_doc}

# 2. one core, no HTTP: CPU per phase. The functions receive_invoice calls are wrapped; each phase gets
# its exclusive CPU time (a nested phase pauses its parent's clock).
from rathaus.cases import services as case_services
from rathaus.einvoice import render, xmlsafe
tenant = Tenant.objects.get(slug="musterstadt")
invoices = [json.loads(l) for l in open(invoices_file)]
cpu = collections.defaultdict(float)
stack = []
level_ms = collections.defaultdict(list)

def wrap(mod, name, phase, on_result=None):
    orig = getattr(mod, name, None)
    if orig is None:  # an older version of the code (before/after comparisons)
        return
    def wrapper(*a, **kw):
        now = time.process_time()
        if stack:
            cpu[stack[-1][0]] += now - stack[-1][1]
        stack.append([phase, now])
        try:
            result = orig(*a, **kw)
        finally:
            now = time.process_time()
            cpu[phase] += now - stack.pop()[1]
            if stack:
                stack[-1][1] = now
        if on_result:
            on_result(result)
        return result
    setattr(mod, name, wrapper)

def levels(report):
    for k, v in report.timings.items():
        level_ms[k].append(v)

P_STORE = "1 store: file, document + invoice rows, audit, COMMIT (transaction 1)"
wrap(services, "receive_invoice", P_STORE)
wrap(services, "process_invoice", "5 duplicate check, COMMIT of transaction 2, glue (rest of process_invoice)")
wrap(xmlsafe, "parse", "2 XML parse, hardened (once)")
wrap(validation, "validate_invoice", "3 validate: XSD, EN 16931 (Saxon), BR-DE", levels)
wrap(parse_mod, "parse_invoice", "4 parse into the EN 16931 model")
wrap(services, "_lookups", "5 route by Leitweg-ID + duplicate check + booking proposal (one query)")
wrap(services, "route_for", "5 route by Leitweg-ID (older code)")
wrap(services, "_start_approval", "6 start case: data")
wrap(services, "booking_proposal", "6 start case: booking proposal (older code)")
wrap(case_services, "submit_application", "6 start case: submit_application (case, workflow, tasks, audit)")
wrap(services, "file_to_case", "7 case file: link XML, store PDF")
wrap(render, "render_invoice_pdf", "7 case file: PDF view (Typst)")
wrap(services, "_set_status", "8 status in_review + audit")
pg_pid = None
def pg_cpu():
    global pg_pid
    if pg_pid is None:
        with connection.cursor() as c:
            c.execute("SELECT pg_backend_pid()")
            pg_pid = c.fetchone()[0]
    try:
        f = open(f"/proc/{pg_pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

warm = invoices[:20]
for inv in warm:
    services.receive_invoice(tenant, inv["xml"].encode(), actor="kasse", channel="api")
cpu.clear(); level_ms.clear()
tot_cpu, tot_wall, statuses = [], [], collections.Counter()
pg0 = pg_cpu()
t_all, c_all = time.perf_counter(), time.process_time()
for inv in invoices[20:20 + n_phase]:
    t0, c0 = time.perf_counter(), time.process_time()
    r = services.receive_invoice(tenant, inv["xml"].encode(), actor="kasse", channel="api")
    tot_cpu.append(time.process_time() - c0)
    tot_wall.append(time.perf_counter() - t0)
    statuses[r.status] += 1
pg1 = pg_cpu()
n = len(tot_cpu)
ms = lambda s: round(s * 1000 / n, 2)
phases = {k: ms(v) for k, v in sorted(cpu.items())}
total = sum(tot_cpu)
phase = {"invoices": n, "statuses": dict(statuses), "cpu_ms_per_invoice": ms(total),
         "wall_ms_per_invoice": ms(sum(tot_wall)), "median_cpu_ms": round(statistics.median(tot_cpu) * 1000, 2),
         "postgres_backend_cpu_ms_per_invoice": round((pg1 - pg0) * 1000 / n, 2),
         "phases_cpu_ms": phases,
         "validation_levels_ms_median": {k: round(statistics.median(v), 2) for k, v in level_ms.items()}}

# 3. the whole request without a server: Django's test client (middleware, token authentication, the API
# view, the JSON answer), the phase wrappers still in place but cheap
from django.test import Client
client = Client(HTTP_HOST="localhost")
http_cpu, http_status = [], collections.Counter()
pg0 = pg_cpu()
for inv in invoices[20 + n_phase:20 + 2 * n_phase]:
    c0 = time.process_time()
    resp = client.post("/api/v1/einvoices", data=inv["xml"].encode(), content_type="application/xml",
                       HTTP_AUTHORIZATION=f"Bearer {token}")
    http_cpu.append(time.process_time() - c0)
    http_status[f"{resp.status_code} {resp.json().get('status')}"] += 1
pg1 = pg_cpu()
phase["request_in_process"] = {
    "invoices": len(http_cpu), "statuses": dict(http_status),
    "cpu_ms_per_invoice": round(sum(http_cpu) * 1000 / max(len(http_cpu), 1), 2),
    "median_cpu_ms": round(statistics.median(http_cpu) * 1000, 2) if http_cpu else None,
    "postgres_backend_cpu_ms_per_invoice": round((pg1 - pg0) * 1000 / max(len(http_cpu), 1), 2)}

# 4. the SQL of one invoice
with CaptureQueriesContext(connection) as ctx:
    services.receive_invoice(tenant, invoices[20 + 2 * n_phase]["xml"].encode(), actor="kasse", channel="api")
queries = [q["sql"][:200] for q in ctx.captured_queries]
print(json.dumps({"check": check, "phase": phase, "queries": queries}))
"""


def probe(env: dict, accepted: list[int], phase_invoices: list[dict], n_phase: int, token: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as a, \
            tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as b:
        json.dump(accepted, a)
        for inv in phase_invoices:
            b.write(json.dumps(inv) + "\n")
    try:
        p = subprocess.run([sys.executable, "-c", PROBE, a.name, b.name, str(n_phase), token], cwd=ROOT, env=env,
                           capture_output=True, text=True)
    finally:
        os.unlink(a.name)
        os.unlink(b.name)
    if p.returncode != 0:
        return {"error": p.stderr.strip()[-2000:]}
    return json.loads(p.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------------
# main


def db_backends(parts: dict) -> list[int]:
    """Process ids of the PostgreSQL backends connected to the benchmark's database (not this query's own)."""
    try:
        with admin_connect(parts, "postgres") as conn:
            return [r[0] for r in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [parts["dbname"]]).fetchall()]
    except Exception:  # noqa: BLE001
        return []


def rathaus_cmd(env: dict, *args: str) -> str:
    p = subprocess.run([sys.executable, "-m", "rathaus", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"rathaus {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p.stdout


HEADER = (f"{'clients':>7} {'sent':>6} {'accepted/s':>10} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}   "
          f"{'server':>6} {'pg':>6} {'loadgen':>7} {'other':>6} {'busy':>6} {'CPU ms/inv':>10} {'server':>7} {'pg':>5}"
          "   not accepted")


def fmt_row(s: dict, cpu: dict) -> str:
    lat = s["latency_ms"]
    other = {k: v for k, v in s["statuses"].items() if k != "201"}
    other.update({k: v for k, v in s["invoice_states"].items() if k != "in_review"})
    other.update(s["errors"])
    return (f"{s['clients']:>7} {s['sent']:>6} {s['accepted_per_s']:>10.1f} {lat['p50'] or 0:>8.1f} "
            f"{lat['p90'] or 0:>8.1f} {lat['p99'] or 0:>8.1f} {lat['max'] or 0:>8.1f}   "
            f"{cpu['server_share']:>6.0%} {cpu['postgres_share']:>6.0%} {cpu['loadgen_share']:>7.0%} "
            f"{cpu['other_share']:>6.0%} {cpu['machine_busy_share']:>6.0%} {s['cpu_ms_per_invoice']:>10.1f} "
            f"{s['server_cpu_ms_per_invoice']:>7.1f} {s['postgres_cpu_ms_per_invoice']:>5.1f}   {other or '-'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db-url", default="postgres://postgres@127.0.0.1:5432/rathaus_bench_einv")
    ap.add_argument("--invoices", type=int, default=2000, help="distinct invoices sent over HTTP (all levels)")
    ap.add_argument("--clients", default="1,4,16", help="comma-separated concurrency levels")
    ap.add_argument("--warmup", type=int, default=60, help="invoices sent first (4 clients), not measured")
    ap.add_argument("--cii-share", type=float, default=0.25, help="share of CII invoices (if the builder exists)")
    ap.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                    help="`rathaus serve --server` (default granian, as `rathaus serve`)")
    ap.add_argument("--workers", type=int, default=0,
                    help="server workers (default as `rathaus serve`: cores for granian, cores + 1 for gunicorn)")
    ap.add_argument("--phase-invoices", type=int, default=200, help="invoices for the in-process phase split")
    ap.add_argument("--kosit", default="", metavar="PATH",
                    help="install KoSIT's XRechnung artefacts from PATH first (`rathaus einvoice rules install`)")
    ap.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    ap.add_argument("--json", default="", help="write all results to this file")
    ap.add_argument("--drop", action="store_true", help="drop the database afterwards")
    args = ap.parse_args()
    levels = [int(x) for x in args.clients.split(",") if x.strip()]

    parts = db_parts(args.db_url)
    data_dir = tempfile.mkdtemp(prefix="rathaus-bench-einv-")
    env = {**os.environ, "DATABASE_URL": args.db_url, "RATHAUS_DATA_DIR": data_dir,
           "RATHAUS_SECRET_KEY": "benchmark-secret-key-not-for-production-use-0123456789abcdef",
           "DJANGO_SETTINGS_MODULE": "rathaus.settings", "PYTHONUNBUFFERED": "1"}
    env.pop("RATHAUS_DEBUG", None)
    results: dict = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": {"cpus": NCPU, "cpu_model": cpu_model(), "python": platform.python_version(),
                    "postgres": pg_version(parts), "loadavg_before": os.getloadavg()},
        "settings": {"invoices": args.invoices, "clients": levels, "warmup": args.warmup, "seed": args.seed},
    }
    log(f"database {parts['dbname']}: recreate, migrate, seed-demo --no-cases, token for kasse")
    recreate_database(parts)
    rathaus_cmd(env, "migrate", "--no-input")
    rathaus_cmd(env, "seed-demo", "--no-cases")
    token = rathaus_cmd(env, "token", "kasse", "--tenant", TENANT).strip().splitlines()[-1]
    if args.kosit:
        rathaus_cmd(env, "einvoice", "rules", "install", args.kosit)
        results["settings"]["kosit"] = args.kosit

    extra = 20 + 2 * args.phase_invoices + 1
    log(f"generating {args.invoices + extra} distinct invoices")
    invoices = generate_invoices(env, args.invoices + extra, args.cii_share, args.seed)
    http_invoices, phase_invoices = invoices[:args.invoices], invoices[args.invoices:]
    syntaxes = collections.Counter(i["syntax"] for i in http_invoices)
    sizes = sorted(len(i["xml"].encode()) for i in http_invoices)
    results["invoices"] = {"syntax": dict(syntaxes), "bytes_median": sizes[len(sizes) // 2],
                           "bytes_max": sizes[-1]}
    log(f"invoices: {dict(syntaxes)}, median {sizes[len(sizes) // 2]} bytes")

    workers = args.workers or (NCPU if args.server == "granian" else NCPU + 1)  # `rathaus serve`'s defaults
    results["settings"].update(server=args.server, workers=workers)
    server = Server(env, workers, 1, args.server)
    accepted: list[int] = []
    try:
        server.start()
        log(f"server on port {server.port}: {server.workers} workers (pids {server.pids()})")
        reqs = [build_request(server.port, token, i["xml"].encode()) for i in http_invoices]
        warm, reqs = reqs[:args.warmup], reqs[args.warmup:]
        if warm:
            w = asyncio.run(run_load(server.port, warm, 4))
            accepted += w.accepted_ids
            log(f"warm-up: {len(w.accepted_ids)} of {len(warm)} accepted, {dict(w.statuses)} {dict(w.errors)}")
            if not w.accepted_ids:
                sys.exit(f"nothing accepted during warm-up; server log: {server.log.name}")
        per = len(reqs) // len(levels)
        backends = db_backends(parts)
        print(f"\nrathaus e-invoice receive, {args.server} with {server.workers} workers, {NCPU} CPUs (CPU columns: share of "
              f"the whole machine; CPU ms/inv: server + PostgreSQL CPU per accepted invoice)\n{HEADER}", flush=True)
        results["levels"] = []
        for k, c in enumerate(levels):
            batch = reqs[k * per:(k + 1) * per if k < len(levels) - 1 else len(reqs)]
            meter = CpuMeter(server)
            sampler = WaitSampler(parts)
            sampler.start()
            backends = db_backends(parts) or backends
            a, pa = meter.snapshot(), {pid: proc_cpu_seconds(pid) for pid in backends}
            res = asyncio.run(run_load(server.port, batch, c))
            b = meter.snapshot()
            backends_after = db_backends(parts)
            pb = {pid: proc_cpu_seconds(pid) for pid in backends_after}
            sampler.halt.set()
            sampler.join(timeout=5)
            cpu = CpuMeter.delta(a, b)
            accepted += res.accepted_ids
            s = res.summary()
            cpu_s = (cpu["server_share"] + cpu["postgres_share"]) * cpu["wall_s"] * NCPU
            s["cpu_ms_per_invoice_all_postgres"] = round(cpu_s * 1000 / max(s["accepted"], 1), 1)
            # PostgreSQL: only the backends of this database (the machine is shared: other jobs' backends
            # would count otherwise); a backend that started during the run counts whole, one that ended
            # during the run is missed
            own_pg = sum(pb[pid] - pa.get(pid, 0.0) for pid in pb)
            server_s = cpu["server_share"] * cpu["wall_s"] * NCPU
            s["server_cpu_ms_per_invoice"] = round(server_s * 1000 / max(s["accepted"], 1), 1)
            s["postgres_cpu_ms_per_invoice"] = round(own_pg * 1000 / max(s["accepted"], 1), 1)
            s["cpu_ms_per_invoice"] = round((server_s + own_pg) * 1000 / max(s["accepted"], 1), 1)
            s["cpu"], s["postgres_backends"] = cpu, sampler.result()
            results["levels"].append(s)
            print(fmt_row(s, cpu), flush=True)
    finally:
        server.stop()
    results["loadavg_after"] = os.getloadavg()

    log("checking the database; CPU per phase in-process (one core, no HTTP)")
    pr = probe(env, accepted, phase_invoices, args.phase_invoices, token)
    results["probe"] = pr
    ok = False
    if "error" in pr:
        print(f"\nprobe failed: {pr['error']}", flush=True)
    else:
        chk = pr["check"]
        ok = (chk["missing"] == chk["unexpected"] == chk["not_in_review"] == chk["without_case"]
              == chk["document_missing_or_changed"] == 0 and chk["cases_distinct"] == chk["einvoices_in_db"])
        print(f"\ne-invoices in DB {chk['einvoices_in_db']}, accepted by the benchmark {chk['accepted_by_benchmark']}, "
              f"missing {chk['missing']}, unexpected {chk['unexpected']}, not in_review {chk['not_in_review']}, "
              f"without case {chk['without_case']}, distinct cases {chk['cases_distinct']}, document missing or "
              f"changed {chk['document_missing_or_changed']}: {'OK' if ok else 'MISMATCH'}")
        ph = pr["phase"]
        print(f"\none core in-process, {ph['invoices']} invoices {ph['statuses']}: {ph['cpu_ms_per_invoice']} ms CPU "
              f"(median {ph['median_cpu_ms']}), {ph['wall_ms_per_invoice']} ms wall per invoice; PostgreSQL backend "
              f"{ph['postgres_backend_cpu_ms_per_invoice']} ms CPU per invoice")
        for k, v in ph["phases_cpu_ms"].items():
            print(f"  {v:8.2f} ms  {k}")
        print("  validation levels (ValidationReport.timings, median ms): "
              + ", ".join(f"{k} {v}" for k, v in ph["validation_levels_ms_median"].items()))
        rq = ph["request_in_process"]
        print(f"whole request in-process (Django test client, no server), {rq['invoices']} invoices {rq['statuses']}: "
              f"{rq['cpu_ms_per_invoice']} ms CPU (median {rq['median_cpu_ms']}) + PostgreSQL backend "
              f"{rq['postgres_backend_cpu_ms_per_invoice']} ms = "
              f"{rq['cpu_ms_per_invoice'] + rq['postgres_backend_cpu_ms_per_invoice']:.1f} ms per invoice")
        kinds = collections.Counter(q.split()[0].upper() for q in pr["queries"] if q.split())
        print(f"SQL statements per invoice: {len(pr['queries'])} {dict(kinds)}")
    results["consistent"] = ok
    best = max((s["accepted_per_s"] for s in results.get("levels", [])), default=0)
    results["verdict"] = {"best_accepted_per_s": best, "target": "≥ 100 invoices/s on PostgreSQL", "met": best >= 100}
    print(f"\nbest: {best:.0f} accepted invoices/s; target ≥ 100/s: {'MET' if best >= 100 else 'NOT MET'}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log(f"results written to {args.json}")
    if args.drop:
        drop_database(parts)
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
