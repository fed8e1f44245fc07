"""Fast bulk inserts for batch jobs (bank statement imports, ledger postings of thousands of rows).

On PostgreSQL the rows go in with `COPY ... FROM STDIN` (psycopg 3), with primary keys reserved
beforehand from the table's identity sequence, so callers get the ids back as with `bulk_create`.
Values are prepared by the model fields themselves (`get_db_prep_save`), so JSON, Decimal and
aware datetimes are stored exactly as the ORM would store them. Other databases use `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connections, router


def bulk_insert(objs: Sequence, *, batch_size: int = 5000) -> Sequence:
    """Insert unsaved model instances of one model; sets their primary keys."""
    if not objs:
        return objs
    model = type(objs[0])
    conn = connections[router.db_for_write(model)]
    if conn.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=batch_size)
        return objs
    meta = model._meta
    pk_field = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk_field]
    qn = conn.ops.quote_name
    table = meta.db_table
    columns = ", ".join(qn(f.column) for f in [pk_field, *fields])
    getters = [_getter(f, conn) for f in fields]
    with conn.cursor() as cur:
        for start in range(0, len(objs), batch_size):
            chunk = objs[start:start + batch_size]
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                        [table, pk_field.column, len(chunk)])
            ids = [row[0] for row in cur.fetchall()]
            with cur.cursor.copy(f"COPY {qn(table)} ({columns}) FROM STDIN") as copy:
                for obj, pk in zip(chunk, ids, strict=True):
                    setattr(obj, pk_field.attname, pk)
                    copy.write_row([pk, *(get(obj) for get in getters)])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = conn.alias
    return objs


def _getter(field, conn):
    """The value of one column for an instance: the plain attribute where the ORM would not change it
    (strings, numbers, Decimal, aware datetimes, foreign key ids), else the field's own preparation."""
    from django.db import models

    attname = field.attname
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) or isinstance(
            field, models.JSONField | models.FileField):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), conn)
    return lambda obj: getattr(obj, attname)


def insert_rows(model, rows: list[dict], *, batch_size: int = 5000) -> list[int]:
    """Insert plain dicts (keys: field attnames, e.g. `tenant_id`) without building model instances;
    missing keys take the field default. Returns the new primary keys in order. The fast path for bulk
    jobs; other databases than PostgreSQL go through `bulk_create`."""
    if not rows:
        return []
    conn = connections[router.db_for_write(model)]
    if conn.vendor != "postgresql":
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=batch_size)
        return [o.pk for o in objs]
    from django.db import models
    from psycopg.types.json import Jsonb

    meta = model._meta
    pk_field = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk_field]
    plan = []
    for f in fields:
        default = f.get_default() if f.has_default() else None
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            from django.utils import timezone

            default = timezone.now()
        plan.append((f.attname, default, isinstance(f, models.JSONField)))
    qn = conn.ops.quote_name
    columns = ", ".join(qn(f.column) for f in [pk_field, *fields])
    ids: list[int] = []
    with conn.cursor() as cur:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                        [meta.db_table, pk_field.column, len(chunk)])
            chunk_ids = [r[0] for r in cur.fetchall()]
            with cur.cursor.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as copy:
                for row, pk in zip(chunk, chunk_ids, strict=True):
                    values = [pk]
                    for attname, default, is_json in plan:
                        v = row.get(attname, default)
                        values.append(Jsonb(v) if is_json and v is not None else v)
                    copy.write_row(values)
            ids.extend(chunk_ids)
    return ids
