"""Production server: granian (WSGI, keep-alive; default) or gunicorn, static files through WhiteNoise.

Measured on 2 cores (docs/benchmarks.md): granian with one blocking thread per worker and cores workers
serves about 1.5 times the submissions of gunicorn's sync workers (which close every connection), at a
lower p99; gunicorn stays available with `--server gunicorn`."""

import multiprocessing
import os

from django.core.management.base import BaseCommand


def warm_up_worker(worker) -> None:
    """gunicorn `post_worker_init`: per-worker warm-up (see `rathaus.core.serving.warm_up`)."""
    from rathaus.core.serving import settle_heap, warm_up

    warm_up()
    settle_heap()


class Command(BaseCommand):
    help = "Startet den Produktionsserver (granian, wahlweise gunicorn) für rathaus."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("RATHAUS_HOST", "127.0.0.1"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("RATHAUS_WORKERS", 0)) or None)
        parser.add_argument("--threads", type=int, default=int(os.environ.get("RATHAUS_THREADS", 1)))
        parser.add_argument("--quiet", action="store_true", help="keine Zugriffsprotokolle")
        parser.add_argument("--server", choices=("granian", "gunicorn"),
                            default=os.environ.get("RATHAUS_SERVER", "granian"))

    def handle(self, *args, **opts):
        bind = f"{opts['host']}:{opts['port']}"
        if opts["server"] == "granian":
            workers = opts["workers"] or multiprocessing.cpu_count()  # measured best, docs/benchmarks.md
            self._banner(bind, workers)
            self._granian(opts, workers)
        else:
            workers = opts["workers"] or (multiprocessing.cpu_count() + 1)
            self._banner(bind, workers)
            self._gunicorn(opts, bind, workers)

    def _granian(self, opts, workers: int) -> None:
        from django.db import connections
        from granian import Granian
        from granian.constants import Interfaces

        connections.close_all()  # the workers open their own
        Granian(
            target="rathaus.core.serving:worker_app",
            factory=True,
            address=opts["host"],
            port=opts["port"],
            interface=Interfaces.WSGI,
            websockets=False,
            workers=workers,
            blocking_threads=opts["threads"],  # Django: one request at a time per thread and connection
            backlog=2048,
            log_access=not opts["quiet"],
            respawn_failed_workers=True,
            workers_kill_timeout=30,
        ).serve()

    def _gunicorn(self, opts, bind: str, workers: int) -> None:
        from django.core.wsgi import get_wsgi_application
        from gunicorn.app.base import BaseApplication

        application = get_wsgi_application()

        options = {
            "bind": bind,
            "workers": workers,
            "threads": opts["threads"],
            "worker_class": "gthread" if opts["threads"] > 1 else "sync",
            "accesslog": None if opts["quiet"] else "-",
            "errorlog": "-",
            "timeout": 60,
            "graceful_timeout": 10,
            "keepalive": 5,
            "limit_request_line": 8190,
            "backlog": 2048,
            "post_worker_init": warm_up_worker,
        }

        class App(BaseApplication):
            def load_config(self):
                for k, v in options.items():
                    if v is not None:
                        self.cfg.set(k, v)

            def load(self):
                return application

        App().run()

    def _banner(self, bind: str, workers: int) -> None:
        base = f"http://{bind}"
        self.stdout.write(f"rathaus läuft auf {base}/ ({workers} Worker, Strg+C beendet)")
        self.stdout.write(f"  Leistungen und Anträge:  {base}/")
        self.stdout.write(f"  Antragsstatus:           {base}/status/")
        self.stdout.write(f"  Sachbearbeitung:         {base}/sachbearbeitung/  (Anmeldung: {base}/anmelden/)")
        self.stdout.write(f"  Stadtkasse:              {base}/kasse/  (z. B. als kasse)")
        self.stdout.write(f"  Haushalt (Kämmerei):     {base}/haushalt/  (als kaemmerei)")
        self.stdout.write(f"  Rechnungseingang:        {base}/rechnungen/")
        self.stdout.write(f"  API-Dokumentation:       {base}/api/v1/docs")
        self.stdout.flush()
