"""record_change(): the one way to write an audit entry and its outbox event.

Call it inside the transaction that makes the change. The audit chain is per tenant: every
entry stores the hash of its predecessor, so a changed or deleted row breaks `rathaus audit
verify`. The head row is locked (SELECT ... FOR UPDATE) so concurrent writers append in order.
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from .models import AuditEntry, AuditHead, OutboxEvent

GENESIS = "0" * 64


def _canonical(entry_fields: dict) -> bytes:
    return json.dumps(entry_fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def compute_hash(prev_hash: str, *, seq, at, actor, action, object_type, object_id, data) -> str:
    body = _canonical(
        {
            "seq": seq,
            "at": at.isoformat(),
            "actor": actor,
            "action": action,
            "object_type": object_type,
            "object_id": str(object_id),
            "data": data,
        }
    )
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def record_change(
    *,
    tenant,
    actor: str,
    action: str,
    object_type: str,
    object_id,
    data: dict | None = None,
    event_type: str | None = None,
    event_payload: dict | None = None,
) -> AuditEntry:
    """Append an audit entry and (if event_type is given) an outbox event. Needs a transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("record_change() must run inside transaction.atomic()")
    data = data or {}
    head = AuditHead.objects.select_for_update().filter(tenant_id=tenant.pk).first()
    if head is None:
        AuditHead.objects.get_or_create(tenant_id=tenant.pk)
        head = AuditHead.objects.select_for_update().get(tenant_id=tenant.pk)
    seq = head.seq + 1
    at = timezone.now()
    h = compute_hash(
        head.hash, seq=seq, at=at, actor=actor, action=action, object_type=object_type,
        object_id=object_id, data=data,
    )
    entry = AuditEntry.objects.create(
        tenant_id=tenant.pk, seq=seq, at=at, actor=actor, action=action, object_type=object_type,
        object_id=str(object_id), data=data, prev_hash=head.hash, hash=h,
    )
    AuditHead.objects.filter(tenant_id=tenant.pk).update(seq=seq, hash=h)
    if event_type:
        OutboxEvent.objects.create(
            tenant_id=tenant.pk, type=event_type, aggregate_type=object_type, aggregate_id=str(object_id),
            payload=event_payload if event_payload is not None else data,
        )
    return entry


@dataclass
class VerifyResult:
    tenant: str
    entries: int
    ok: bool
    error: str = ""


def verify_chain(tenant) -> VerifyResult:
    prev = GENESIS
    expected_seq = 1
    count = 0
    qs = AuditEntry.objects.filter(tenant=tenant).order_by("seq")
    for e in qs.iterator(chunk_size=2000):
        if e.seq != expected_seq:
            return VerifyResult(tenant.slug, count, False, f"Lücke in der Kette: erwartet {expected_seq}, gefunden {e.seq}")
        if e.prev_hash != prev:
            return VerifyResult(tenant.slug, count, False, f"Eintrag {e.seq}: Vorgänger-Hash passt nicht")
        h = compute_hash(
            prev, seq=e.seq, at=e.at, actor=e.actor, action=e.action, object_type=e.object_type,
            object_id=e.object_id, data=e.data,
        )
        if h != e.hash:
            return VerifyResult(tenant.slug, count, False, f"Eintrag {e.seq}: Inhalt wurde verändert")
        prev = e.hash
        expected_seq += 1
        count += 1
    head = AuditHead.objects.filter(tenant=tenant).first()
    if head and (head.seq != count or head.hash != prev):
        return VerifyResult(tenant.slug, count, False, "Kettenende passt nicht zum gespeicherten Kopf (Einträge gelöscht?)")
    return VerifyResult(tenant.slug, count, True)


__all__ = ["record_change", "verify_chain", "transaction"]
