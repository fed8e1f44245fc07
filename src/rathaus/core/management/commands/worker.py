"""`rathaus worker`: runs the background tasks of the configured tasks backend (docs/operations.md).

No queue loop of our own: one worker is the backend's own (`db_worker` of django-tasks-db, `rqworker` of
django-rq with django-tasks-rq's job class and RQ's scheduler for tasks with `run_after`); `--concurrency N`
starts N of them as child processes and stops them together (SIGINT/SIGTERM are passed on).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from rathaus.core.worker import backend_kind, run_start_hooks


class Command(BaseCommand):
    help = "Führt die Hintergrundaufgaben aus (Webhooks, geplante Arbeit) mit dem eingestellten Backend."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true",
                            help="alles Fällige erledigen, dann beenden")
        parser.add_argument("--concurrency", type=int, default=1, help="Zahl der Worker-Prozesse (Standard 1)")
        parser.add_argument("--interval", type=float, default=0.5,
                            help="Datenbank-Backend: Sekunden zwischen zwei Blicken in die leere Warteschlange")
        parser.add_argument("--no-start-hooks", action="store_true", help=("intern: die Kindprozesse von "
                                                                            "--concurrency planen nichts ein"))

    def handle(self, *args, burst: bool, concurrency: int, interval: float, no_start_hooks: bool, **opts):
        if concurrency < 1 or concurrency > 64:
            raise CommandError("--concurrency: 1 bis 64")
        try:
            kind = backend_kind()
        except ValueError as e:
            raise CommandError(str(e)) from e
        if not no_start_hooks:
            run_start_hooks()
        if concurrency > 1:
            return self._supervise(concurrency, burst, interval, opts["verbosity"])
        if kind == "db":
            call_command("db_worker", queue_name="*", batch=burst, interval=interval, reload=False,
                         startup_delay=False, verbosity=opts["verbosity"])
        else:
            # RATHAUS_RQ_WORKER_CLASS: RQ's forking Worker by default (a task per child process)
            call_command("rqworker", "default", job_class="django_tasks_rq.Job", burst=burst, with_scheduler=True,
                         worker_class=getattr(settings, "RATHAUS_RQ_WORKER_CLASS", None), verbosity=opts["verbosity"])

    def _supervise(self, n: int, burst: bool, interval: float, verbosity: int) -> None:
        """N workers as child processes; a signal to this one goes to all of them; returns when all ended."""
        cmd = [sys.executable, "-m", "rathaus", "worker", "--concurrency", "1", "--no-start-hooks",
               "--interval", str(interval), "--verbosity", str(verbosity)] + (["--burst"] if burst else [])
        children = [subprocess.Popen(cmd, env=os.environ.copy()) for _ in range(n)]

        def forward(signum, frame):
            for child in children:
                if child.poll() is None:
                    child.send_signal(signum)

        old = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            codes = [child.wait() for child in children]
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)
        if any(codes):
            raise CommandError(f"Worker beendet mit den Rückgabewerten {codes}")
