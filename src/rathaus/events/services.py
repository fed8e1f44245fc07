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


def _body(*, at, actor, action, object_type, object_id, data) -> dict:
    return {"at": at.isoformat(), "actor": actor, "action": action, "object_type": object_type,
            "object_id": str(object_id), "data": data}


def compute_hash(prev_hash: str, *, seq, at, actor, action, object_type, object_id, data) -> str:
    body = _canonical({"seq": seq, **_body(at=at, actor=actor, action=action, object_type=object_type,
                                          object_id=object_id, data=data)})
    return hashlib.sha256(prev_hash.encode() + body).hexdigest()


def _canonical_before_seq(**fields) -> str:
    """The canonical body up to the value of "seq", which sorts last: body = this + str(seq) + "}"."""
    text = _canonical(_body(**fields)).decode()
    return text[:-1] + ',"seq":'


_AUDIT_INSERT = Insert(AuditEntry, ["tenant_id", "seq", "at", "actor", "action", "object_type", "object_id", "data",
                                     "prev_hash", "hash"])
_OUTBOX_INSERT = Insert(OutboxEvent, ["tenant_id", "type", "aggregate_type", "aggregate_id", "payload", "created_at",
                                      "published_at"])
_HEAD = AuditHead._meta.db_table
_FROM_HEAD = {"seq": "h.seq", "prev_hash": "h.prev_hash", "hash": "h.hash"}


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

    Every audited change of a tenant passes the tenant's chain head, so this is kept short: on PostgreSQL
    one statement advances the head (row lock until COMMIT), writes the entry and the outbox event
    (`_append_pg`); on other databases (SQLite serialises write transactions anyway) the head is read and
    the three rows written one by one. Call it last in the transaction, so the head stays locked only
    until `COMMIT`.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("record_change() must run inside transaction.atomic()")
    data = data or {}
    tid = tenant.pk
    at = timezone.now()
    event = None
    if event_type:
        event = {"tenant_id": tid, "type": event_type, "aggregate_type": object_type,
                 "aggregate_id": str(object_id), "payload": event_payload if event_payload is not None else data,
                 "created_at": at, "published_at": None}
    fields = {"at": at, "actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
              "data": data}
    if connection.vendor == "postgresql":
        entry_id = _append_pg(tid, fields, event)
        if entry_id is None:  # the tenant's first entry: create the head, then append
            AuditHead.objects.get_or_create(tenant_id=tid)
            entry_id = _append_pg(tid, fields, event)
        return entry_id

    with connection.cursor() as cur:
        lock = f"SELECT seq, hash FROM {_HEAD} WHERE tenant_id = %s"  # SQLite serialises write transactions
        cur.execute(lock, [tid])
        row = cur.fetchone()
        if row is None:
            AuditHead.objects.get_or_create(tenant_id=tid)
            cur.execute(lock, [tid])
            row = cur.fetchone()
        prev_seq, prev_hash = row
        seq = prev_seq + 1
        h = compute_hash(prev_hash, seq=seq, **fields)
        entry = {"tenant_id": tid, "seq": seq, **fields, "object_id": str(object_id), "prev_hash": prev_hash,
                 "hash": h}
        cur.execute(_AUDIT_INSERT.sql(1, connection), _AUDIT_INSERT.params([entry], connection))
        entry_id = cur.fetchone()[0]
        cur.execute(f"UPDATE {_HEAD} SET seq = %s, hash = %s, prev_hash = %s WHERE tenant_id = %s",
                    [seq, h, prev_hash, tid])
        if event:
            cur.execute(_OUTBOX_INSERT.sql(1, connection, returning=False),
                        _OUTBOX_INSERT.params([event], connection))
    return entry_id


def _append_pg(tid: int, fields: dict, event: dict | None) -> int | None:
    """One statement: advance the head (its row lock orders concurrent writers; SET sees the old row, so
    prev_hash and the new hash both come from the hash before), insert the entry with both, and the outbox
    event. The hash is the same SHA-256 as compute_hash(): the canonical body is built here up to "seq"
    (the last key), PostgreSQL appends the number. None if the tenant has no head yet."""
    conn = connection
    ins = _AUDIT_INSERT
    sql = (f"WITH h AS (UPDATE {_HEAD} SET seq = seq + 1, prev_hash = hash, "
           "hash = encode(sha256(convert_to(hash || %s || (seq + 1)::text || '}', 'UTF8')), 'hex') "
           "WHERE tenant_id = %s RETURNING seq, hash, prev_hash), "
           f"e AS ({ins.sql_select(conn, 'h', exprs=_FROM_HEAD)})")
    entry = {"tenant_id": tid, "at": fields["at"], "actor": fields["actor"], "action": fields["action"],
             "object_type": fields["object_type"], "object_id": str(fields["object_id"]), "data": fields["data"]}
    params = [_canonical_before_seq(**fields), tid, *ins.params([entry], conn, skip=_FROM_HEAD)]
    if event:  # also only with a head: the statement writes all or nothing
        sql += f", o AS ({_OUTBOX_INSERT.sql_select(conn, 'h', returning=False)})"
        params += _OUTBOX_INSERT.params([event], conn)
    with conn.cursor() as cur:
        cur.execute(sql + " SELECT id FROM e", params)
        row = cur.fetchone()
    return row[0] if row else None


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
