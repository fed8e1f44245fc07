"""The WSGI application as the production server's workers load it.

`rathaus serve` runs granian (Rust HTTP server, WSGI interface, keep-alive) with one blocking thread
per worker process; each worker calls `worker_app()` once after it has started, so per-process work
(database connections, compiled XML schemas and stylesheets, the Typst compiler) happens in the
worker, never in the master: Saxon runs threads, which do not survive a fork.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("rathaus.serve")


def warm_up() -> None:
    """Compile the e-invoice schemas and stylesheets (saxonche) and create the Typst compiler of the invoice
    view, so the first invoice a worker gets does not wait a second for them."""
    try:
        from rathaus.einvoice import render, validation

        validation.warm_up()
        render.warm_up()
    except Exception:  # noqa: BLE001 - a failed warm-up only makes the first request slower
        log.exception("Vorwärmen der E-Rechnungsprüfung fehlgeschlagen")


def worker_app():
    """granian factory: the Django WSGI application of this worker process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rathaus.settings")
    from django.db import connections

    from rathaus.wsgi import application

    connections.close_all()  # never share a connection inherited from the master
    warm_up()
    settle_heap()
    return application


def settle_heap() -> None:
    """Move everything a worker has loaded so far (Django, the URL conf, schemas, compiled rules) out of the
    cyclic garbage collector's reach: a full collection then scans only what requests allocate, not the
    whole application (seen: one full collection every ~300 e-invoices took ≈ 60 ms, a request's p99)."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - load the URL conf and the API now, not in the first request
    gc.collect()
    gc.freeze()
