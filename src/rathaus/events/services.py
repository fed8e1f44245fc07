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

from rathaus.core.bulk import Insert

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


_AUDIT_INSERT = Insert(AuditEntry, ["tenant_id", "seq", "at", "actor", "action", "object_type", "object_id", "data",
                                     "prev_hash", "hash"])
_OUTBOX_INSERT = Insert(OutboxEvent, ["tenant_id", "type", "aggregate_type", "aggregate_id", "payload", "created_at",
                                      "published_at"])
_HEAD = AuditHead._meta.db_table


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
) -> int:
    """Append an audit entry and (if event_type is given) an outbox event; returns the entry's id.
    Needs a transaction.

    Every audited change of a tenant passes the tenant's chain head, so this is kept short: the head
    row is locked (`FOR UPDATE`; SQLite's write transactions are serialised anyway), then on PostgreSQL
    the entry, the new head and the outbox event are written in one statement (writable CTE), on other
    databases in three. Call it last in the transaction, so the head stays locked only until `COMMIT`.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("record_change() must run inside transaction.atomic()")
    data = data or {}
    tid = tenant.pk
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        lock = f"SELECT seq, hash FROM {_HEAD} WHERE tenant_id = %s" + (" FOR UPDATE" if pg else "")
        cur.execute(lock, [tid])
        row = cur.fetchone()
        if row is None:
            AuditHead.objects.get_or_create(tenant_id=tid)
            cur.execute(lock, [tid])
            row = cur.fetchone()
        prev_seq, prev_hash = row
        seq = prev_seq + 1
        at = timezone.now()
        h = compute_hash(prev_hash, seq=seq, at=at, actor=actor, action=action, object_type=object_type,
                         object_id=object_id, data=data)
        entry = {"tenant_id": tid, "seq": seq, "at": at, "actor": actor, "action": action,
                 "object_type": object_type, "object_id": str(object_id), "data": data, "prev_hash": prev_hash,
                 "hash": h}
        event = None
        if event_type:
            event = {"tenant_id": tid, "type": event_type, "aggregate_type": object_type,
                     "aggregate_id": str(object_id), "payload": event_payload if event_payload is not None else data,
                     "created_at": at, "published_at": None}
        update_head = f"UPDATE {_HEAD} SET seq = %s, hash = %s WHERE tenant_id = %s"
        if pg:
            sql = f"WITH e AS ({_AUDIT_INSERT.sql(1, connection)}), h AS ({update_head} RETURNING 1)"
            params = [*_AUDIT_INSERT.params([entry], connection), seq, h, tid]
            if event:
                sql += f", o AS ({_OUTBOX_INSERT.sql(1, connection, returning=False)})"
                params += _OUTBOX_INSERT.params([event], connection)
            cur.execute(sql + " SELECT id FROM e", params)
            entry_id = cur.fetchone()[0]
        else:
            cur.execute(_AUDIT_INSERT.sql(1, connection), _AUDIT_INSERT.params([entry], connection))
            entry_id = cur.fetchone()[0]
            cur.execute(update_head, [seq, h, tid])
            if event:
                cur.execute(_OUTBOX_INSERT.sql(1, connection, returning=False),
                            _OUTBOX_INSERT.params([event], connection))
    return entry_id


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
