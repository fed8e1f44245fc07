#!/usr/bin/env python3
"""Notice benchmark: PDF/A notices (Bescheide) per second and core, rendering and storing included.

One process (= one core): a temporary database (SQLite by default, or ``--database-url``) is migrated
and seeded with the demo tenant; N cases of a demo service are submitted (setup, not timed); then, timed:

The applicant's name, address and similar details differ from case to case (``vary``), as in real life:
Typst reuses unchanged parts of the previous notice, identical notices would flatter the numbers.

- ``issue``: ``rathaus.notices.services.issue_notice`` for every case in its own transaction – the
  receivable (Kassenzeichen, fee lines, ledger posting), notice data, GiroCode, Typst → PDF/A-2a,
  write-once storage with SHA-256 into a temporary data dir, audit entry and outbox event;
- ``render_store``: notice data (receivable already there), Typst → PDF/A, ``store_document`` (file
  write-once + SHA-256 + row) – "rendering and storing", without the finance part; CPU time per phase
  (data incl. GiroCode, render, store incl. commit) in ``render_store_phases_ms_cpu``;
- ``render``: only ``render_notice_pdf`` with the same data (no database, no storage);
- ``receipt``: ``ensure_receipt`` (Eingangsbestätigung) for every case.

Wall-clock and CPU time of the process are reported (the machine may be shared: CPU time per notice is
the better per-core figure).

    .venv/bin/python benchmarks/notices.py                      # 500 notices, gewerbeanmeldung
    .venv/bin/python benchmarks/notices.py -n 300 --service hundesteuer --json /tmp/notices.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


SURNAMES = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
            "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
            "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Krause", "Meier", "Lehmann"]
FIRST_NAMES = ["Anna", "Jürgen", "Özlem", "Paul", "Marie", "Lukas", "Sophie", "Jonas", "Emilia", "Ben", "Lea", "Finn"]
STREETS = ["Hauptstraße", "Schulstraße", "Gartenweg", "Bahnhofstraße", "Am Mühlbach", "Lindenallee", "Kirchplatz",
           "Birkenweg", "Rosenstraße", "Bergstraße", "Waldstraße", "Ringstraße", "Goethestraße"]


def vary(value, i: int):
    """The form example with the applicant's name, address and similar free text changed per case: every real
    notice has another addressee and other details, so Typst cannot reuse those parts from the last one."""
    if isinstance(value, list):
        return [vary(v, i) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for k, v in value.items():
        if k == "nachname":
            v = SURNAMES[i % len(SURNAMES)]
        elif k == "vorname":
            v = FIRST_NAMES[(i // len(SURNAMES)) % len(FIRST_NAMES)]
        elif k == "strasse":
            v = STREETS[i % len(STREETS)]
        elif k == "hausnummer":
            v = str(1 + i % 97)
        elif k in ("firma", "geschaeftsbezeichnung", "rufname", "kontoinhaber"):
            v = f"{v} {SURNAMES[(i * 7) % len(SURNAMES)]}"
        else:
            v = vary(v, i)
        out[k] = v
    return out


PREFIX = "rathaus-bench-notices-"
# Why the documents are not deleted during a series of runs: on ext4, creating a file needs a free inode, and
# the allocator skips inodes freed in the last minutes ("recently_deleted", a read of the inode table block
# each). Right after ~1,200 files were deleted, creating a 46 KB file cost 0.5-0.9 ms of CPU instead of
# 0.05-0.14 ms (measured 2026-12-06), ≈ 0.5 ms of "store" per notice that an E-Akte, which never deletes, does
# not pay. Deleting old runs' folders at the start of a run (as until 2026-12-06) put that cost into the run
# itself; so folders of earlier runs are removed only on request (--remove-old, after the measurements).


def old_runs(current: Path) -> list[Path]:
    return [d for d in Path(tempfile.gettempdir()).glob(PREFIX + "*") if d != current and d.is_dir()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=500, help="number of notices (default 500)")
    ap.add_argument("--service", default="gewerbeanmeldung", help="demo service (default gewerbeanmeldung)")
    ap.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    ap.add_argument("--json", default="", help="write the results to this file")
    ap.add_argument("--keep", action="store_true", help="keep the temporary database and documents for good")
    ap.add_argument("--cleanup", action="store_true", help="delete this run's temporary folder at the end")
    ap.add_argument("--remove-old", action="store_true",
                    help="delete the folders of earlier runs at the end (not during a series: see PREFIX)")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix=PREFIX))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rathaus.settings")
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'db.sqlite3'}"
    os.environ["RATHAUS_DATA_DIR"] = str(tmp / "documents")
    os.environ["RATHAUS_VAR_DIR"] = str(tmp / "var")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from rathaus.cases.services import submit_application
    from rathaus.catalog.services import DEMO_SERVICES_DIR
    from rathaus.demo.seed import seed_demo
    from rathaus.notices import services as notices
    from rathaus.tenants.models import Tenant

    def log(msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    log(f"database {os.environ['DATABASE_URL']}, data dir {tmp / 'documents'}")
    call_command("migrate", verbosity=0)
    seed_demo(with_cases=False)
    tenant = Tenant.objects.get(slug="musterstadt")
    example = json.loads((DEMO_SERVICES_DIR / args.service / "form.schema.json").read_text())["examples"][0]
    log(f"submitting {args.n} cases of {args.service} (setup)")
    cases = [submit_application(tenant, args.service, vary(example, i)).case for i in range(args.n)]

    # warm-up: one compiler per template and process, fonts loaded once
    with transaction.atomic():
        first = notices.issue_notice(cases[0], "approve", actor="bench")
        transaction.set_rollback(True)
    with first.file.open("rb") as f:
        from pypdf import PdfReader

        pages = len(PdfReader(f).pages)

    def timed(fn):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        return time.perf_counter() - w0, time.process_time() - c0

    def issue_all():
        for case in cases:
            with transaction.atomic():
                notices.issue_notice(case, "approve", actor="bench", now=timezone.now())

    log("issue: receivable + render + store + audit")
    wall_issue, cpu_issue = timed(issue_all)

    from rathaus.finance.models import Receivable
    from rathaus.finance.providers import payment_request

    recs = {r.case_id: r for r in Receivable.objects.filter(case__in=cases[:200])}
    datas = [notices.notice_data(c, "approve", payment=payment_request(recs[c.pk])) for c in cases[:200]]
    sv = cases[0].service_version

    def render_all():
        for d in datas:
            notices.render_notice_pdf(sv, d)

    log("render only")
    wall_render, cpu_render = timed(render_all)

    all_recs = {r.case_id: r for r in Receivable.objects.filter(case__in=cases).prefetch_related("lines")}

    def render_store_all():
        from rathaus.documents.models import Document
        from rathaus.documents.services import store_document

        clock = time.process_time
        for c in cases:
            t0 = clock()
            data = notices.notice_data(c, "approve", payment=payment_request(all_recs[c.pk], c.tenant))
            t1 = clock()
            pdf = notices.render_notice_pdf(sv, data)
            t2 = clock()
            with transaction.atomic():
                store_document(tenant=tenant, case=c, kind=Document.Kind.NOTICE, title="Bescheid",
                               filename=f"Bescheid-{c.reference}.pdf", content_type="application/pdf",
                               content=pdf, actor="bench-store", released=True)
            phases["data"] += t1 - t0
            phases["render"] += t2 - t1
            phases["store"] += clock() - t2

    phases = {"data": 0.0, "render": 0.0, "store": 0.0}
    import gc

    gc_stats = {"collections": [0, 0, 0], "s": 0.0}
    gc_start = [0.0]

    def gc_timer(phase, info):
        if phase == "start":
            gc_start[0] = time.process_time()
        else:
            gc_stats["collections"][info["generation"]] += 1
            gc_stats["s"] += time.process_time() - gc_start[0]

    log("notice data + render + store (receivable exists)")
    gc.callbacks.append(gc_timer)
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        wall_rs, cpu_rs = timed(render_store_all)
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats(os.environ.get("BENCH_SORT", "tottime")).print_stats(os.environ.get("BENCH_FILTER", ""), 40)
    else:
        wall_rs, cpu_rs = timed(render_store_all)

    gc.callbacks.remove(gc_timer)
    log("receipts")
    wall_receipt, cpu_receipt = timed(lambda: [notices.ensure_receipt(c) for c in cases])

    sizes = [d.size for d in first.__class__.objects.filter(kind="notice", created_by="bench")]
    n = args.n
    result = {
        "service": args.service, "notices": n, "pages_per_notice": pages,
        "database": "sqlite" if "sqlite" in os.environ["DATABASE_URL"] else "postgresql",
        "issue_per_s_wall": round(n / wall_issue, 1), "issue_per_s_cpu": round(n / cpu_issue, 1),
        "issue_ms_per_notice_cpu": round(1000 * cpu_issue / n, 2),
        "issue_ms_per_page_cpu": round(1000 * cpu_issue / n / pages, 2),
        "render_store_per_s_wall": round(n / wall_rs, 1), "render_store_per_s_cpu": round(n / cpu_rs, 1),
        "render_store_ms_per_notice_cpu": round(1000 * cpu_rs / n, 2),
        "render_store_phases_ms_cpu": {k: round(1000 * v / n, 2) for k, v in phases.items()},
        "render_store_gc": {"collections_by_generation": gc_stats["collections"],
                            "ms_per_notice": round(1000 * gc_stats["s"] / n, 3)},
        "render_per_s_wall": round(len(datas) / wall_render, 1),
        "render_ms_per_notice_cpu": round(1000 * cpu_render / len(datas), 2),
        "receipt_per_s_wall": round(n / wall_receipt, 1), "receipt_ms_cpu": round(1000 * cpu_receipt / n, 2),
        "avg_pdf_kb": round(sum(sizes) / max(1, len(sizes)) / 1024, 1),
        "python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if args.cleanup and not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    elif not args.keep:
        log(f"documents of this run: {tmp} (--cleanup removes them at the end)")
    old = old_runs(tmp)
    if old and args.remove_old:
        for d in old:
            shutil.rmtree(d, ignore_errors=True)
        log(f"removed {len(old)} folders of earlier runs")
    elif old:
        log(f"{len(old)} folders of earlier runs in {tempfile.gettempdir()}: --remove-old (after the last run of a "
            f"series) or rm -r {Path(tempfile.gettempdir()) / PREFIX}*")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
