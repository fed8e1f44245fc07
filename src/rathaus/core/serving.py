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


_WARM_UPS: list = []


def register_warm_up(fn) -> None:
    """An app's per-worker preparation (compiled schemas, stylesheets, a renderer), run by `warm_up` in every
    server worker before its first request; registered from the app's `AppConfig.ready()`."""
    if fn not in _WARM_UPS:
        _WARM_UPS.append(fn)


def warm_up() -> None:
    """Run the registered warm-ups (e.g. the e-invoice schemas, stylesheets and the Typst compiler of the
    invoice view), so the first request a worker gets does not wait a second for them."""
    for fn in _WARM_UPS:
        try:
            fn()
        except Exception:  # noqa: BLE001 - a failed warm-up only makes the first request slower
            log.exception("Vorwärmen fehlgeschlagen: %s", getattr(fn, "__qualname__", fn))


def worker_app():
    """granian factory: the Django WSGI application of this worker process."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rathaus.settings")
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    application = get_wsgi_application()
    connections.close_all()  # never share a connection inherited from the master
    warm_up()
    settle_heap()
    return application


def settle_heap() -> None:
    """Move everything a worker has loaded so far (Django, the URL conf, schemas, compiled rules) out of the
    cyclic garbage collector's reach: a full collection then scans only what requests allocate, not the
    whole application (otherwise a full collection now and then, scanning all of it, is a request's p99; docs/benchmarks.md)."""
    import gc

    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - load the URL conf and the API now, not in the first request
    gc.collect()
    gc.freeze()
