"""`rathaus worker`: the backend's own worker, the start hooks that (re)start the webhook pump's chain, one chain
at a time, and --concurrency/--burst as real processes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django_tasks_db.models import DBTaskResult

from rathaus.webhooks.models import Pump
from rathaus.webhooks.tasks import ensure_pump

# PostgreSQL: real commits (the worker closes its connection between tasks); SQLite: the test's transaction
if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    @pytest.fixture
    def tenants(seeded_tx):
        return seeded_tx
else:
    @pytest.fixture
    def tenants(seeded):
        return seeded


def _ready_pumps():
    return list(DBTaskResult.objects.filter(task_path="rathaus.webhooks.tasks.pump", status="READY"))


def test_a_new_chain_retires_the_old_one(tenants, settings):
    settings.RATHAUS_WEBHOOKS_POLL_SECONDS = 30
    old = ensure_pump()
    new = ensure_pump()
    assert Pump.objects.get().token == new
    call_command("worker", "--burst", verbosity=0)  # its own start hook adds a third chain, the current one
    current = Pump.objects.get().token
    assert current not in (old, new)
    waiting = _ready_pumps()  # only the current chain goes on (after its poll interval)
    assert [t.args_kwargs["args"] for t in waiting] == [[current]]
    done = DBTaskResult.objects.filter(task_path="rathaus.webhooks.tasks.pump", status="SUCCESSFUL")
    assert done.count() == 3


def test_bad_concurrency_is_refused(seeded):
    with pytest.raises(CommandError):
        call_command("worker", "--burst", "--concurrency", "0")


def test_burst_with_concurrency_runs_the_backends_workers_as_processes(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'w.sqlite3'}", "RATHAUS_VAR_DIR": str(tmp_path)}
    run = [sys.executable, "-m", "rathaus"]
    subprocess.run([*run, "migrate", "-v0"], env=env, check=True, timeout=300)
    r = subprocess.run([*run, "worker", "--burst", "--concurrency", "2"], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert out.count("Starting worker") == 2 and out.count("exiting gracefully") == 2
