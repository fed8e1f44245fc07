"""Reading the outbox: the publisher's batches and the pull API's pages.

The outbox is written only by `events.services` (`record_change`, `record_events`); here it is read in the
order of its ids, and `mark_published` is the one write: a publisher (the webhook fan-out) sets
`published_at` on the rows it has handed on, in the same transaction as what it made of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection
from django.utils import timezone

from .models import OutboxEvent


def unpublished(limit: int) -> list[OutboxEvent]:
    """The oldest events not yet published, by id (index (published_at, id)). Inside a transaction on
    PostgreSQL the rows are locked and rows another publisher holds are skipped, so two publishers never
    hand on the same event twice at the same time."""
    qs = OutboxEvent.objects.filter(published_at__isnull=True).order_by("id")
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        qs = qs.select_for_update(skip_locked=True)
    return list(qs.only("id", "tenant_id", "type", "aggregate_type", "aggregate_id")[:limit])


def mark_published(ids: Sequence[int], at=None) -> int:
    """Set `published_at` of the given events (those still unpublished); returns how many."""
    if not ids:
        return 0
    return OutboxEvent.objects.filter(id__in=list(ids), published_at__isnull=True).update(
        published_at=at or timezone.now())


def by_ids(ids: Sequence[int]) -> dict[int, OutboxEvent]:
    """Events by id (for a delivery: its event's payload and time)."""
    return {e.id: e for e in OutboxEvent.objects.filter(id__in=list(ids))}


def page(tenant_id: int, after: int, limit: int) -> list[OutboxEvent]:
    """A tenant's events with an id above `after`, in order (the pull API's page). The outbox has no index by
    tenant (every submission writes a row; see the model): the page walks the primary key from `after` and
    skips other tenants' rows, which is cheap while one tenant writes most events or the reader keeps up."""
    return list(OutboxEvent.objects.filter(tenant_id=tenant_id, id__gt=after).order_by("id")[:limit])
