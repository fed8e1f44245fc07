"""E-invoice validation: time per invoice over KoSIT's XRechnung test suite.

    .venv/bin/python benchmarks/einvoice_validate.py                  # XSD + EN 16931 + BR-DE (+ KoSIT)
    .venv/bin/python benchmarks/einvoice_validate.py --no-kosit --rounds 20 --json /tmp/einv.json

Full validation (`validate_invoice(xml)`, levels=all) of every instance of
`../shared/corpora/xrechnung-testsuite/`, in one process after a warm-up (schemas and stylesheets are
compiled once per process, as in a server worker). KoSIT's XRechnung artefacts are installed into a
temporary directory from `--kosit` (default: the compiled 3.0.2 configuration in the corpora) unless
`--no-kosit`; the native BR-DE rules run when `rathaus.einvoice.rules_de` exists. Reported: median,
p90, p99 and max of the whole validation (wall clock and process CPU time) and of each level, in
milliseconds, and the machine's load average (other processes inflate the wall-clock figures).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: list[float]) -> dict:
    return {"n": len(values), "median": statistics.median(values), "p90": pct(values, 90),
            "p99": pct(values, 99), "max": max(values)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", type=Path, default=CORPORA / "xrechnung-testsuite")
    ap.add_argument("--kosit", type=Path,
                    default=CORPORA / "rules" / "kosit-validator-config-xrechnung-3.0.2-release-2025-03-21-compiled")
    ap.add_argument("--no-kosit", action="store_true", help="without KoSIT's XRechnung XSL")
    ap.add_argument("--rounds", type=int, default=10, help="passes over the suite (after one warm-up pass)")
    ap.add_argument("--json", type=Path, help="write all results here")
    args = ap.parse_args()

    files = sorted(args.suite.glob("*-cases/**/*.xml"))
    if not files:
        print(f"no test suite at {args.suite}", file=sys.stderr)
        return 2
    tmp = tempfile.TemporaryDirectory(prefix="einvoice-bench-")
    os.environ["RATHAUS_EINVOICE_RULES_DIR"] = str(Path(tmp.name) / "rules")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rathaus.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from rathaus.einvoice import artifacts
    from rathaus.einvoice.validation import validate_invoice, warm_up

    if not args.no_kosit:
        if not args.kosit.exists():
            print(f"KoSIT configuration not found: {args.kosit} (use --no-kosit)", file=sys.stderr)
            return 2
        installed = artifacts.install(args.kosit)
        print(f"KoSIT artefacts: XRechnung {installed.version}")
    t = time.perf_counter()
    warm_up()
    compile_ms = (time.perf_counter() - t) * 1000
    docs = [(f, f.read_bytes()) for f in files]
    for f, xml in docs:  # warm-up pass (first run of each stylesheet is slower)
        r = validate_invoice(xml)
        if not r.valid:
            print(f"INVALID {f.name}: {[e.rule for e in r.errors]}", file=sys.stderr)
            return 1
    total: list[float] = []
    cpu: list[float] = []
    levels: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for _f, xml in docs:
            t, c = time.perf_counter(), time.process_time()
            r = validate_invoice(xml)
            total.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            for k, v in r.timings.items():
                levels.setdefault(k, []).append(v)
    result = {
        "files": len(docs), "rounds": args.rounds, "kosit": not args.no_kosit,
        "native_br_de": "xrechnung_native" in levels and any("native" in s for s in r.levels_run),
        "levels_run_last": r.levels_run, "compile_ms": compile_ms,
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "total": summary(total), "cpu": summary(cpu), "load_avg": os.getloadavg(), "levels": {k: summary(v) for k, v in levels.items()},
    }
    print(f"{len(docs)} invoices x {args.rounds} rounds; compile (once per process) {compile_ms:.0f} ms")
    print(f"levels of the last run: {'; '.join(r.levels_run)}")
    print(f"{'':18} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}  (ms)")
    rows = [("total", result["total"]), ("total CPU", result["cpu"])] + sorted(result["levels"].items())
    for name, s in rows:
        print(f"{name:18} {s['median']:8.2f} {s['p90']:8.2f} {s['p99']:8.2f} {s['max']:8.2f}")
    print("load average (1, 5, 15 min): " + ", ".join(f"{x:.2f}" for x in result["load_avg"])
          + f" on {os.cpu_count()} CPUs (above the CPU count the wall-clock figures are inflated)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
