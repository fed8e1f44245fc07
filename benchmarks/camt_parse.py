#!/usr/bin/env python3
"""camt.053 parser benchmark (parser alone, no database).

For each size (default 50,000 and 200,000 entries) it writes a statement with
``rathaus.finance.bank.writer`` into a temporary directory (realistic DK credit transfers: debtor,
IBAN, end-to-end id, a Kassenzeichen remittance over two ``Ustrd`` lines, every 20th entry a
batch booking of three transactions), then, each in a fresh subprocess so the numbers do not
influence each other:

1. iterates all entries of ``parse_camt053`` and reports wall time, entries per second and the
   peak RSS growth (``ru_maxrss`` after parsing minus before parsing);
2. iterates again under ``tracemalloc`` and reports the peak of Python allocations (slower, so
   no time is reported for this run).

Memory should not grow with the number of entries; time should grow linearly.

    .venv/bin/python benchmarks/camt_parse.py
    .venv/bin/python benchmarks/camt_parse.py --sizes 50000,200000,500000 --pretty
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from rathaus.finance.bank.writer import WriterEntry, WriterTransaction, write_camt053

IBAN = "DE02120300000000202051"


def entries(n: int):
    """n realistic entries; yields lazily so the writer streams."""
    day = date(2026, 3, 2)
    for i in range(n):
        kz = f"2026-{i % 1000000:06d}-{(97 - i % 97):02d}"
        if i % 20 == 19:
            yield WriterEntry(
                amount=Decimal("75.00"),
                booking_date=day,
                account_servicer_ref=f"2026030{i:07d}",
                bank_tx_code="PMNT/IDDT/ESDD",
                proprietary_code="NDDT+192+992",
                transactions=[
                    WriterTransaction(amount=Decimal(a), remittance=f"Kassenzeichen {kz} Grundsteuer B",
                                      end_to_end_id=f"GRST-{i}-{k}", mandate_id=f"MS-{i}-{k}",
                                      debtor_name="Anna Beispiel", debtor_iban="DE44500105175407324931")
                    for k, a in enumerate(("25.00", "30.00", "20.00"))
                ],
            )
        else:
            yield WriterEntry(
                amount=Decimal("123.45"),
                booking_date=day,
                remittance=f"Kassenzeichen {kz}\nHundesteuer 2026 Musterstrasse {i % 200}",
                debtor_name="Erika Mustermann",
                debtor_iban="DE89370400440532013000",
                end_to_end_id=f"E2E-{i:08d}" if i % 3 else "NOTPROVIDED",
                account_servicer_ref=f"2026030{i:07d}",
                proprietary_code="NTRF+166+931",
            )


def generate(path: Path, n: int, pretty: bool) -> float:
    start = time.perf_counter()
    with path.open("wb") as f:
        write_camt053(
            f, version="camt.053.001.08", account_iban=IBAN, account_owner="Stadt Musterstadt Stadtkasse",
            servicer_bic="BYLADEM1001", statement_id="BENCH-1", message_id="BENCH-MSG-1",
            created_at=datetime(2026, 3, 2, 18, 0, tzinfo=timezone(timedelta(hours=1))),
            opening_balance=Decimal("0"), closing_balance=Decimal("1"), entries=entries(n), pretty=pretty,
        )
    return time.perf_counter() - start


def child(path: str, mode: str) -> None:
    """Measure one parse in this (fresh) process and print JSON."""
    from rathaus.finance.bank.camt import parse_camt053

    max_bytes = os.path.getsize(path) + 1
    if mode == "time":
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start = time.perf_counter()
        count = txs = 0
        for entry in parse_camt053(path, max_bytes=max_bytes):
            count += 1
            txs += len(entry.transactions)
        seconds = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"entries": count, "transactions": txs, "seconds": seconds,
                          "rss_before_kb": before, "rss_peak_kb": after}))
    else:
        import tracemalloc

        tracemalloc.start()
        count = sum(1 for _ in parse_camt053(path, max_bytes=max_bytes))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(json.dumps({"entries": count, "tracemalloc_peak_bytes": peak}))


def run_child(path: Path, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(path), mode], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50000,200000", help="comma-separated entry counts")
    parser.add_argument("--pretty", action="store_true", help="indented XML (bigger files)")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, pretty={args.pretty}")
    print(f"{'entries':>9} {'file MB':>8} {'write s':>8} {'parse s':>8} {'entries/s':>10} "
          f"{'RSS +MB':>8} {'RSS peak MB':>11} {'tracemalloc MB':>14}")
    with tempfile.TemporaryDirectory(prefix="camt-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"camt053-{n}.xml"
            write_s = generate(path, n, args.pretty)
            timed = run_child(path, "time")
            traced = run_child(path, "trace")
            assert timed["entries"] == traced["entries"] == n, (timed, traced)
            # ru_maxrss is in KiB on Linux
            rss_growth = (timed["rss_peak_kb"] - timed["rss_before_kb"]) / 1024
            print(f"{n:>9,} {path.stat().st_size / 1e6:>8.1f} {write_s:>8.2f} {timed['seconds']:>8.2f} "
                  f"{n / timed['seconds']:>10,.0f} {rss_growth:>8.1f} {timed['rss_peak_kb'] / 1024:>11.1f} "
                  f"{traced['tracemalloc_peak_bytes'] / 1e6:>14.2f}")
            path.unlink()


if __name__ == "__main__":
    main()
