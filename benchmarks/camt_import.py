#!/usr/bin/env python3
"""camt.053 import benchmark: 50,000 bank entries matched against 200,000 open receivables (PostgreSQL).

1. (re)creates the database, migrates, seeds the demo tenant (no cases);
2. creates N open receivables (bulk insert; Kassenzeichen with valid check digits);
3. writes one camt.053.001.08 statement with M entries (streaming writer): 90 % pay a random open
   receivable (exact, partial or over, the Kassenzeichen written in different ways, sometimes split
   over two remittance lines), 10 % carry no Kassenzeichen (clearing list);
4. imports it in a fresh process (`rathaus import-camt`, the production code path), measuring wall
   time, CPU time and the peak RSS of that process;
5. checks the result: every entry booked once, the journal balanced, receivables updated.

    .venv/bin/python benchmarks/camt_import.py                         # 200,000 / 50,000
    .venv/bin/python benchmarks/camt_import.py --receivables 20000 --entries 5000 --json /tmp/camt.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(*args, env=None):
    subprocess.run(args, check=True, env=env, cwd=ROOT)


def setup_django(db_url):
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rathaus.settings")
    import django

    django.setup()


def create_receivables(n: int) -> list[tuple[str, str]]:
    import datetime as dt
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from rathaus.finance import kassenzeichen as kz
    from rathaus.finance.models import Receivable
    from rathaus.tenants.models import Tenant
    from rathaus.tenants.numbering import next_number

    t = Tenant.objects.get(slug="musterstadt")
    now = timezone.now()
    year = timezone.localtime(now).year
    first = next_number(t.pk, "KZ", year, count=n)
    rnd = random.Random(1)
    out = []
    batch = []
    for i in range(n):
        k = kz.make(year, first + i) if first + i < 1_000_000 else None
        amount = Decimal(rnd.choice(["26.00", "55.00", "96.00", "132.00", "12.50", "600.00"]))
        batch.append(Receivable(tenant=t, kassenzeichen=k, debtor_name=f"Schuldner {i}", purpose=f"Bench {i}",
                                amount=amount, open_amount=amount, due_date=dt.date.today(), product="02.2.01",
                                revenue_account="4311000", receivable_account="1611000", cash_account="6311000",
                                cost_centre="320", created_at=now, created_by="bench", updated_at=now))
        out.append((k, str(amount)))
        if len(batch) == 10000:
            Receivable.objects.bulk_create(batch)
            batch = []
    Receivable.objects.bulk_create(batch)
    with connection.cursor() as cur:
        cur.execute("ANALYZE finance_receivable")
    return out


def write_statement(path: Path, receivables, m: int) -> dict:
    import datetime as dt
    from decimal import Decimal

    from rathaus.finance import kassenzeichen as kz
    from rathaus.finance.bank.writer import WriterEntry, write_camt053

    rnd = random.Random(2)
    today = dt.date.today()
    stats = {"with_kz": 0, "without_kz": 0, "total": Decimal("0")}

    def entries():
        for i in range(m):
            if rnd.random() < 0.9:
                k, amount = rnd.choice(receivables)
                style = rnd.randrange(4)
                text = [f"Kassenzeichen {kz.display(k)}", f"KZ {k} Gebuehr", f"Bescheid {k[:6]}\n{k[6:]}",
                        f"{k[:4]} {k[4:10]} {k[10:]} Hundesteuer"][style]
                amt = Decimal(amount) * Decimal(rnd.choice(["1", "1", "1", "0.5", "1.1"]))
                amt = amt.quantize(Decimal("0.01"))
                stats["with_kz"] += 1
            else:
                text, amt = f"Spende {i}", Decimal("10.00")
                stats["without_kz"] += 1
            stats["total"] += amt
            yield WriterEntry(amount=amt, booking_date=today, remittance=text, account_servicer_ref=f"BENCH{i:08d}",
                              debtor_name=f"Zahler {i}", debtor_iban="DE89370400440532013000")

    with path.open("wb") as fh:
        write_camt053(fh, version="camt.053.001.08", account_iban="DE02120300000000202051",
                      account_owner="Stadt Musterstadt", servicer_bic="BYLADEM1001", statement_id="BENCH-1",
                      message_id="BENCH-MSG-1", created_at=dt.datetime.now(dt.UTC),
                      opening_balance=Decimal("0.00"), closing_balance=Decimal("0.00"), entries=entries())
    stats["total"] = str(stats["total"])
    return stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db-url", default="postgres://postgres@127.0.0.1:5432/rathaus_bench_camt")
    ap.add_argument("--receivables", type=int, default=200_000)
    ap.add_argument("--entries", type=int, default=50_000)
    ap.add_argument("--json", default="")
    ap.add_argument("--phase", default="all", choices=["all", "setup"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    py = sys.executable
    dbname = args.db_url.rsplit("/", 1)[1]
    base = args.db_url.rsplit("/", 1)[0] + "/postgres"
    env = {**os.environ, "DATABASE_URL": args.db_url, "DJANGO_SETTINGS_MODULE": "rathaus.settings"}
    tmp = Path(tempfile.mkdtemp(prefix="camt-bench-"))
    env["RATHAUS_DATA_DIR"] = str(tmp / "data")
    log(f"database {dbname}: drop, create, migrate, seed")
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    sh(py, "-m", "rathaus", "migrate", "-v0", env=env)
    sh(py, "-m", "rathaus", "seed-demo", "--no-cases", env=env)
    os.environ.update(env)
    setup_django(args.db_url)
    t0 = time.perf_counter()
    recs = create_receivables(args.receivables)
    if os.environ.get("BENCH_SQL"):  # experiments: extra SQL after the set-up (e.g. dropping an index)
        from django.db import connection

        with connection.cursor() as cur:
            cur.execute(os.environ["BENCH_SQL"])
    log(f"{args.receivables} open receivables in {time.perf_counter() - t0:.1f} s")
    path = tmp / "camt053-bench.xml"
    t0 = time.perf_counter()
    stats = write_statement(path, recs, args.entries)
    log(f"statement with {args.entries} entries written in {time.perf_counter() - t0:.1f} s "
        f"({path.stat().st_size / 1e6:.1f} MB)")
    log("import in a fresh process (rathaus import-camt)")
    child = (
        "import io, json, resource, sys, time, django; django.setup()\n"
        "from django.core.management import call_command\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "from django.db import connection; connection.ensure_connection()\n"
        "pg_stat = f'/proc/{connection.connection.info.backend_pid}/stat'\n"
        "def pg_cpu():\n"
        "    try:\n"
        "        f = open(pg_stat).read().rsplit(')', 1)[1].split(); return (int(f[11]) + int(f[12])) / os.sysconf('SC_CLK_TCK')\n"
        "    except OSError:\n"
        "        return float('nan')\n"
        "import os; pg0 = pg_cpu()\n"
        "out = io.StringIO(); t0 = time.perf_counter()\n"
        "import os, cProfile, pstats\n"
        "prof = cProfile.Profile() if os.environ.get('BENCH_PROFILE') else None\n"
        "prof and prof.enable()\n"
        "call_command('import_camt', sys.argv[1], '--tenant', 'musterstadt', stdout=out)\n"
        "prof and prof.disable()\n"
        "prof and pstats.Stats(prof, stream=sys.stderr).sort_stats('tottime').print_stats(30)\n"
        "wall = time.perf_counter() - t0; ru = resource.getrusage(resource.RUSAGE_SELF)\n"
        "rc = resource.getrusage(resource.RUSAGE_CHILDREN); pg1 = pg_cpu()\n"
        "print(json.dumps({'wall': wall, 'cpu': ru.ru_utime + ru.ru_stime, 'maxrss_kb': ru.ru_maxrss,\n"
        "                  'cpu_children': rc.ru_utime + rc.ru_stime, 'cpu_pg': pg1 - pg0,\n"
        "                  'base_rss_kb': base, 'output': out.getvalue().strip()}))\n"
    )
    proc = subprocess.run([py, "-c", child, str(path)], env=env, cwd=ROOT, capture_output=True, text=True)
    if os.environ.get("BENCH_PROFILE"):
        print(proc.stderr[-6000:], file=sys.stderr)
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
        return 1
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    wall, cpu = measured["wall"], measured["cpu"]
    peak_rss_mb = measured["maxrss_kb"] / 1024
    log(measured["output"])

    from django.db.models import Count, Sum

    from rathaus.finance.models import BankTransaction, Receivable
    from rathaus.ledger.models import JournalLine

    agg = JournalLine.objects.aggregate(d=Sum("debit"), c=Sum("credit"))
    by_state = dict(BankTransaction.objects.values_list("state").annotate(n=Count("id")))
    paid = Receivable.objects.exclude(status="open").count()
    result = {
        "receivables": args.receivables, "entries": args.entries, "file_mb": round(path.stat().st_size / 1e6, 1),
        "import_wall_s": round(wall, 2), "import_cpu_s_app": round(cpu, 2),
        "import_cpu_s_parser_process": round(measured["cpu_children"], 2),
        "import_cpu_s_postgres_backend": round(measured["cpu_pg"], 2), "peak_rss_mb": round(peak_rss_mb, 1),
        "entries_per_s": round(args.entries / wall), "bank_transactions": by_state, "receivables_touched": paid,
        "journal_balanced": agg["d"] == agg["c"], "journal_lines": JournalLine.objects.count(),
        "statement": stats, "import_output": measured["output"],
    }
    print(json.dumps(result, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    ok = sum(by_state.values()) == args.entries and agg["d"] == agg["c"]
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)  # the 72 MB statement (and the stored copy): ≈ 140 MB a run
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
