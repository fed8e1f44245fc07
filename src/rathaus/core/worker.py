"""Background work: what `rathaus worker` starts, known to core without naming an app.

The tasks themselves go through Django's tasks API (`django_tasks`, settings `TASKS`); the worker command runs
the configured backend's own worker (django-tasks-db's `db_worker`, RQ's `rqworker`). Scheduled work that
must keep running (the webhook pump's self-rescheduling chain) registers a start hook here from its app's
`AppConfig.ready()`: the worker calls every hook once when it starts, before it takes the first task, so a
chain broken by a crash or a restart is picked up again.
"""

from __future__ import annotations

import logging

log = logging.getLogger("rathaus.worker")

_START_HOOKS: list = []


def register_worker_start(fn) -> None:
    """A function the worker calls once at start (e.g. to (re)schedule a recurring task); idempotent."""
    if fn not in _START_HOOKS:
        _START_HOOKS.append(fn)


def run_start_hooks() -> None:
    for fn in _START_HOOKS:
        fn()


def backend_kind(alias: str = "default") -> str:
    """'db' for django-tasks-db, 'rq' for django-tasks-rq (the two backends `rathaus worker` can run)."""
    from django_tasks import task_backends

    backend = task_backends[alias]
    module = type(backend).__module__
    if module.startswith("django_tasks_db"):
        return "db"
    if module.startswith("django_tasks_rq"):
        return "rq"
    raise ValueError(f"Der Aufgaben-Backend {type(backend).__name__} hat keinen Worker in rathaus.")
