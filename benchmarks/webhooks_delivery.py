#!/usr/bin/env python3
"""Webhook delivery benchmark: outbox events delivered per second to a receiver on loopback (PostgreSQL).

1. (re)creates the database, migrates, seeds the demo tenants (no cases);
2. starts a receiver in its own process (`rathaus.demo.receivers.Receiver`, signatures checked);
3. subscribes it for musterstadt and writes N outbox events over A aggregates (`events.services.record_events`);
4. runs `rathaus worker --burst` in a fresh process (the production path: the pump task fans out and
   delivers) and measures its wall time;
5. checks: every event delivered once per subscription, every delivery `delivered`, the receiver saw each id.

    .venv/bin/python benchmarks/webhooks_delivery.py --events 20000
    .venv/bin/python benchmarks/webhooks_delivery.py --events 20000 --fail-first   # receiver down, then up
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECEIVER = """
import json, signal, sys, threading
from rathaus.demo.receivers import Receiver
r = Receiver(int(sys.argv[1]), secret=sys.argv[2] or None).start()
r.failing = sys.argv[3] == '1'
def flip(*_): r.failing = False
signal.signal(signal.SIGUSR1, flip)
stop = threading.Event(); signal.signal(signal.SIGTERM, lambda *_: stop.set()); stop.wait()
ids = [e['id'] for e in r.events()]
print(json.dumps({'received': len(ids), 'unique': len(set(ids)), 'refused': len(r.seen) - len(ids)}))
"""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="postgres://postgres@127.0.0.1:5432/rathaus_bench_webhooks")
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--aggregates", type=int, default=2000)
    ap.add_argument("--port", type=int, default=8799)
    ap.add_argument("--fail-first", action="store_true", help="receiver answers 503 for the first 10 s")
    ap.add_argument("--json")
    args = ap.parse_args()
    env = {**os.environ, "DATABASE_URL": args.db, "RATHAUS_WEBHOOKS_ALLOW_PRIVATE": "1",
           "DJANGO_SETTINGS_MODULE": "rathaus.settings", "RATHAUS_WEBHOOKS_RETRY_SCHEDULE": "2,2,2,2,2,2,2,2,2,2"}
    os.environ.update(env)
    import psycopg

    name = args.db.rsplit("/", 1)[1]
    with psycopg.connect(args.db.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    rathaus = [sys.executable, "-m", "rathaus"]
    subprocess.run([*rathaus, "migrate", "-v0"], check=True, env=env, cwd=ROOT)
    subprocess.run([*rathaus, "seed-demo", "--no-cases", "-v0"], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)

    import django

    django.setup()
    from django.db import transaction

    from rathaus.events.models import OutboxEvent
    from rathaus.events.services import event_row, record_events
    from rathaus.tenants.models import Tenant
    from rathaus.webhooks.models import Delivery, Subscription
    from rathaus.webhooks.services import create_subscription

    t = Tenant.objects.get(slug="musterstadt")
    Subscription.objects.update(active=False)
    OutboxEvent.objects.filter(published_at__isnull=True).delete()
    secret_sub = create_subscription(t, actor="bench", url=f"http://127.0.0.1:{args.port}/hook")
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(args.port), secret_sub.secret,
                                 "1" if args.fail_first else "0"], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)
    log(f"writing {args.events} events over {args.aggregates} aggregates")
    rows = [event_row(t.pk, "case.status_changed", aggregate_type="case", aggregate_id=i % args.aggregates,
                      payload={"reference": f"GEW-2026-{i % args.aggregates:06d}", "n": i}) for i in range(args.events)]
    for i in range(0, len(rows), 5000):
        with transaction.atomic():
            record_events(rows[i:i + 5000])
    if args.fail_first:
        import threading

        threading.Timer(10.0, lambda: receiver.send_signal(10)).start()  # SIGUSR1: the receiver comes back
    log("rathaus worker --burst")
    t0 = time.perf_counter()
    cpu0 = os.times()
    worker = subprocess.run([*rathaus, "worker", "--burst", "-v", "0"], env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    while args.fail_first and Delivery.objects.filter(status="pending").exists():
        time.sleep(1)  # retries due later: one more burst each
        subprocess.run([*rathaus, "worker", "--burst", "-v", "0"], env=env, cwd=ROOT)
        wall = time.perf_counter() - t0
    cpu = os.times()
    receiver.terminate()
    seen = json.loads(receiver.communicate(timeout=30)[0])
    counts = dict(Delivery.objects.values_list("status").annotate(n=__import__("django.db.models", fromlist=["Count"]).Count("id")))
    result = {"events": args.events, "aggregates": args.aggregates, "wall_s": round(wall, 2),
              "events_per_s": round(args.events / wall), "deliveries": counts, "receiver": seen,
              "worker_cpu_s": round(cpu.children_user + cpu.children_system - cpu0.children_user - cpu0.children_system, 1),
              "fail_first": args.fail_first, "worker_rc": worker.returncode}
    ok = counts.get("delivered") == args.events and seen["unique"] == args.events
    result["ok"] = ok
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
