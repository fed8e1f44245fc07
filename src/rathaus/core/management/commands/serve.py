"""Production server: gunicorn (WSGI) with static files through WhiteNoise."""

import multiprocessing
import os

from django.core.management.base import BaseCommand


def warm_up_worker(worker) -> None:
    """gunicorn `post_worker_init`: compile the e-invoice schemas and stylesheets (saxonche) and create the
    Typst compiler of the invoice view in each worker after the fork, so the first invoice a worker gets
    does not wait a second for it. Saxon must not be started before the fork (it runs threads)."""
    try:
        from rathaus.einvoice import render, validation

        validation.warm_up()
        render.warm_up()
    except Exception:  # noqa: BLE001 - a failed warm-up only makes the first request slower
        worker.log.exception("Vorwärmen der E-Rechnungsprüfung fehlgeschlagen")


class Command(BaseCommand):
    help = "Startet den Produktionsserver (gunicorn) für rathaus."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument("--host", default=os.environ.get("RATHAUS_HOST", "127.0.0.1"))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("RATHAUS_WORKERS", 0)) or None)
        parser.add_argument("--threads", type=int, default=int(os.environ.get("RATHAUS_THREADS", 1)))
        parser.add_argument("--quiet", action="store_true", help="keine Zugriffsprotokolle")

    def handle(self, *args, **opts):
        from gunicorn.app.base import BaseApplication

        from rathaus.wsgi import application

        workers = opts["workers"] or (multiprocessing.cpu_count() + 1)  # measured best, docs/benchmarks.md
        bind = f"{opts['host']}:{opts['port']}"
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

        base = f"http://{bind}"
        self.stdout.write(f"rathaus läuft auf {base}/ ({workers} Worker, Strg+C beendet)")
        self.stdout.write(f"  Leistungen und Anträge:  {base}/")
        self.stdout.write(f"  Antragsstatus:           {base}/status/")
        self.stdout.write(f"  Sachbearbeitung:         {base}/sachbearbeitung/  (Anmeldung: {base}/anmelden/)")
        self.stdout.write(f"  Stadtkasse:              {base}/kasse/  (z. B. als kasse)")
        self.stdout.write(f"  Haushalt (Kämmerei):     {base}/haushalt/  (als kaemmerei)")
        self.stdout.write(f"  Rechnungseingang:        {base}/rechnungen/")
        self.stdout.write(f"  API-Dokumentation:       {base}/api/v1/docs")
        App().run()
