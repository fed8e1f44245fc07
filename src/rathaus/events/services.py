"""record_change(): the one way to write an audit entry and its outbox event; record_events(): its sibling for
bulk writers, outbox events only (the operation that causes them is audited once by record_change). No app
writes AuditEntry or OutboxEvent rows itself.

Call them inside the transaction that makes the change. The audit chain is per tenant: every
entry stores the hash of its predecessor, so a changed or deleted row breaks `rathaus audit
verify`. The head row is locked (SELECT ... FOR UPDATE) so concurrent writers append in order.
"""

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from rathaus.core.bulk import Insert, insert_rows

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
    fields, event = change_rows(tid, actor=actor, action=action, object_type=object_type, object_id=object_id,
                                data=data, event_type=event_type, event_payload=event_payload)
    if connection.vendor == "postgresql":
        return _append_pg(tid, fields, event)

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


def change_rows(tid: int, *, actor: str, action: str, object_type: str, object_id, data: dict,
                event_type: str | None, event_payload: dict | None) -> tuple[dict, dict | None]:
    """The audit entry's fields and the outbox event's row of one change (see record_change)."""
    at = timezone.now()
    event = None
    if event_type:
        event = event_row(tid, event_type, aggregate_type=object_type, aggregate_id=object_id,
                          payload=event_payload if event_payload is not None else data, at=at)
    fields = {"at": at, "actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
              "data": data}
    return fields, event


def event_row(tid: int, event_type: str, *, aggregate_type: str, aggregate_id, payload: dict,
              at=None) -> dict:
    """One outbox event as a row (OutboxEvent's columns), for `record_events`; `at`: now if not given."""
    return {"tenant_id": tid, "type": event_type, "aggregate_type": aggregate_type,
            "aggregate_id": str(aggregate_id), "payload": payload, "created_at": at or timezone.now(),
            "published_at": None}


def record_events(rows: Sequence[dict]) -> None:
    """Append many outbox events at once (rows from `event_row`), without audit entries: the state changes
    of one audited operation, e.g. the receivables and payables a bank statement settles (the import itself
    is audited once, by `record_change`). Needs a transaction; on PostgreSQL one COPY per 5,000 rows."""
    if not rows:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("record_events() must run inside transaction.atomic()")
    insert_rows(OutboxEvent, list(rows), returning=False)


def _append_pg(tid: int, fields: dict, event: dict | None) -> int:
    sql, params = pg_append_ctes(tid, fields, event)
    with connection.cursor() as cur:
        cur.execute(f"WITH {sql} SELECT id FROM e", params)
        return cur.fetchone()[0]


def placeholder(name: str) -> str:
    """A value known only inside the statement that appends the entry (see `pg_append_ctes`)."""
    return f"@@rathaus:{name}@@"


_PLACEHOLDER = re.compile(r'"(@@rathaus:[a-z_]+@@)"')


def pg_append_ctes(tid: int, fields: dict, event: dict | None, splices: dict[str, str] | None = None
                   ) -> tuple[str, list]:
    """The CTEs ``h`` (advance the tenant's chain head), ``e`` (the entry, RETURNING id) and ``o`` (the outbox
    event) of a PostgreSQL writable CTE, with their parameters; the caller adds WITH and the final SELECT.

    The head is an upsert: the tenant's first entry creates it (prev = genesis). Its row lock orders
    concurrent writers; SET sees the old row, so prev_hash and the new hash both come from the hash before.
    The hash is compute_hash()'s SHA-256: the canonical body is built here up to "seq" (the last key), the
    database appends the number. `splices` name values that other CTEs of the same statement produce
    (e.g. the new case's id and Aktenzeichen): they appear in `fields`/`event` as `placeholder(name)` and
    are replaced in the hashed body (as JSON), in the stored JSON and in text columns. Only the names given
    are replaced; any other text, also text that looks like a placeholder, is stored and hashed as it is."""
    splices = splices or {}
    conn = connection

    def spliced(match) -> str | None:  # the splice's name, only for names the caller gave
        name = match.group(1).removeprefix("@@rathaus:").removesuffix("@@")
        return name if name in splices else None

    body = _canonical_before_seq(**fields)
    parts, body_params, pos = [], [], 0
    for m in _PLACEHOLDER.finditer(body):
        if (key := spliced(m)) is not None:
            parts += ["%s", f"to_json({splices[key]})::text"]
            body_params.append(body[pos:m.start()])
            pos = m.end()
    parts.append("%s")
    body_params.append(body[pos:])
    body_sql = " || ".join(parts)
    genesis_hash = f"encode(sha256(convert_to(%s || {body_sql} || '1}}', 'UTF8')), 'hex')"
    next_hash = f"encode(sha256(convert_to(x.hash || {body_sql} || (x.seq + 1)::text || '}}', 'UTF8')), 'hex')"
    sql = (f"h AS (INSERT INTO {_HEAD} AS x (tenant_id, seq, hash, prev_hash) VALUES (%s, 1, {genesis_hash}, %s) "
           f"ON CONFLICT (tenant_id) DO UPDATE SET seq = x.seq + 1, prev_hash = x.hash, hash = {next_hash} "
           "RETURNING seq, hash, prev_hash)")
    params = [tid, GENESIS, *body_params, GENESIS, *body_params]
    entry = {"tenant_id": tid, "at": fields["at"], "actor": fields["actor"], "action": fields["action"],
             "object_type": fields["object_type"], "object_id": str(fields["object_id"]), "data": fields["data"]}
    for ins, row, name, extra in ((_AUDIT_INSERT, entry, "e", dict(_FROM_HEAD)), (_OUTBOX_INSERT, event, "o", {})):
        if row is None:
            continue
        exprs, expr_params = extra, {}
        for attname, value in row.items():
            if not splices:
                break
            if isinstance(value, str) and (m := _PLACEHOLDER.fullmatch(f'"{value}"')) and spliced(m):
                exprs[attname] = f"({splices[spliced(m)]})"
            elif isinstance(value, dict | list):
                text = json.dumps(value)
                keys = dict.fromkeys(k for m in _PLACEHOLDER.finditer(text) if (k := spliced(m)) is not None)
                if keys:
                    expr = "%s::text"
                    for key in keys:
                        expr = f"replace({expr}, '\"{placeholder(key)}\"', to_json({splices[key]})::text)"
                    exprs[attname] = f"({expr})::jsonb"
                    expr_params[attname] = [text]
        sql += (f", {name} AS ({ins.sql_select(conn, 'h', exprs=exprs, returning=name == 'e')})")
        params += ins.params([row], conn, skip=exprs, expr_params=expr_params)
    return sql, params


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


# --------------------------------------------------------------------------- anchors

# Why anchors: the database refuses UPDATE and DELETE on audit entries (triggers), and `verify_chain` finds any
# changed, inserted or removed entry – unless someone with the rights to drop the triggers rewrites the chain
# from the changed entry to the end, head included: then the new chain is consistent in itself. An anchor is
# the head (seq, hash) written down *outside* the database at a point in time (`rathaus audit anchor`, daily
# from cron into a log the database administrators cannot change); `verify_anchors` then checks that entry
# `seq` still carries that hash. A rewritten or truncated history no longer matches its earlier anchors.


@dataclass(frozen=True)
class Anchor:
    tenant: str
    seq: int
    hash: str
    at: str  # ISO time the anchor was taken

    def as_json(self) -> str:
        return json.dumps({"tenant": self.tenant, "seq": self.seq, "hash": self.hash, "at": self.at},
                          ensure_ascii=False, separators=(",", ":"))


class AnchorFormatError(ValueError):
    pass


_HEX64 = re.compile(r"[0-9a-f]{64}")


def take_anchors(tenants) -> list[Anchor]:
    """The current head of each tenant's chain (seq 0 and the genesis hash for a tenant without entries)."""
    at = timezone.now().isoformat(timespec="seconds")
    heads = {h.tenant_id: h for h in AuditHead.objects.filter(tenant__in=list(tenants))}
    out = []
    for t in tenants:
        h = heads.get(t.pk)
        out.append(Anchor(t.slug, h.seq if h else 0, h.hash if h else GENESIS, at))
    return out


def parse_anchors(lines) -> list[Anchor]:
    """Anchors from JSON lines as written by `take_anchors` (blank lines and lines starting with # skipped).
    A line that is not an anchor raises AnchorFormatError naming the line: a damaged anchor file must not
    pass as "no anchors"."""
    out = []
    for no, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            d = json.loads(line)
            a = Anchor(str(d["tenant"]), d["seq"], str(d["hash"]), str(d.get("at", "")))
        except (ValueError, KeyError, TypeError) as e:
            raise AnchorFormatError(f"Zeile {no}: kein Anker ({type(e).__name__}: {e})") from None
        if type(a.seq) is not int or a.seq < 0 or not _HEX64.fullmatch(a.hash):
            raise AnchorFormatError(f"Zeile {no}: kein Anker (seq muss eine Zahl ≥ 0, hash 64 Hex-Zeichen sein)")
        if a.seq == 0 and a.hash != GENESIS:
            raise AnchorFormatError(f"Zeile {no}: kein Anker (seq 0 hat den Anfangs-Hash 000…0)")
        out.append(a)
    return out


def verify_anchors(tenant, anchors: list[Anchor]) -> VerifyResult:
    """Every anchor of `tenant` must still match: entry `seq` exists and carries the anchored hash."""
    mine = sorted((a for a in anchors if a.tenant == tenant.slug), key=lambda a: a.seq)
    if not mine:
        return VerifyResult(tenant.slug, 0, True)
    wanted = {a.seq for a in mine if a.seq > 0}
    found = dict(AuditEntry.objects.filter(tenant=tenant, seq__in=wanted).values_list("seq", "hash"))
    for a in mine:
        if a.seq == 0:  # taken before the tenant's first entry: nothing to compare
            continue
        if a.seq not in found:
            return VerifyResult(tenant.slug, 0, False,
                                f"Anker vom {a.at}: Eintrag {a.seq} fehlt (Protokoll gekürzt?)")
        if found[a.seq] != a.hash:
            return VerifyResult(tenant.slug, 0, False,
                                f"Anker vom {a.at}: Eintrag {a.seq} hat einen anderen Hash (Kette neu geschrieben?)")
    return VerifyResult(tenant.slug, len(mine), True)


__all__ = ["record_change", "record_events", "event_row", "verify_chain", "take_anchors", "parse_anchors",
           "verify_anchors", "transaction"]
