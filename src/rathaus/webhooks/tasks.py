"""The webhook pump as a Django task: fan out the outbox and deliver what is due, then schedule itself again.

The due work itself is stored in the database (unpublished outbox rows, pending deliveries with their
`next_attempt_at`), so it survives restarts; the task only drives it. One chain runs at a time: the worker
starts a new chain when it starts (`ensure_pump`, a start hook of `rathaus worker`), which retires the chain
before it (its token no longer matches), and `Pump.busy_until` keeps two runs from overlapping.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from . import services
from .models import Pump

log = logging.getLogger("rathaus.webhooks")

NAME = "webhooks"
BUDGET_SECONDS = 20  # one run works at most this long, then hands over to the next (a fresh task)


def poll_seconds() -> float:
    return float(getattr(settings, "RATHAUS_WEBHOOKS_POLL_SECONDS", 1.0))


def ensure_pump() -> str:
    """Start a new pump chain (and retire any older one); returns its token."""
    token = uuid.uuid4().hex
    with transaction.atomic():
        Pump.objects.update_or_create(name=NAME, defaults={"token": token, "busy_until": None})
    pump.enqueue(token)
    return token


def run_once() -> int:
    """One pass of fan-out and delivery (what a pump run repeats); returns the work done."""
    return services.fan_out() + services.deliver_due()


@task()
def pump(token: str) -> int:
    now = timezone.now()
    taken = Pump.objects.filter(name=NAME, token=token).filter(
        Q(busy_until__isnull=True) | Q(busy_until__lt=now)).update(
        busy_until=now + timedelta(seconds=BUDGET_SECONDS * 3))
    if not taken:
        if Pump.objects.filter(name=NAME, token=token).exists():  # a run of this chain is still busy
            pump.using(run_after=now + timedelta(seconds=poll_seconds())).enqueue(token)
        return 0  # else: a retired chain ends here
    done, busy = 0, True
    try:
        deadline = time.monotonic() + BUDGET_SECONDS
        while busy and time.monotonic() < deadline:
            n = run_once()
            done += n
            busy = n > 0
    finally:
        Pump.objects.filter(name=NAME, token=token).update(busy_until=None)
        wait = 0 if busy else poll_seconds()
        pump.using(run_after=timezone.now() + timedelta(seconds=wait)).enqueue(token)
    return done
