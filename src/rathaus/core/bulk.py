"""Fast bulk inserts for batch jobs (bank statement imports, ledger postings of thousands of rows).

On PostgreSQL the rows go in with `COPY ... FROM STDIN` (psycopg 3), with primary keys reserved
beforehand from the table's identity sequence, so callers get the ids back as with `bulk_create`.
Values are prepared by the model fields themselves (`get_db_prep_save`), so JSON, Decimal and
aware datetimes are stored exactly as the ORM would store them. Other databases use `bulk_create`.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Collection, Sequence
from decimal import Decimal

from django.db import connections, router


def custom_plans(using: str = "default") -> None:
    """In the current transaction, let PostgreSQL plan every execution of a prepared statement for its
    parameters (`plan_cache_mode = force_custom_plan`). For batch jobs: with server-side binding, psycopg
    prepares repeated statements, and after five executions PostgreSQL may switch to a generic plan, which
    for set-based statements over large arrays can be far slower (camt import of 50,000 entries: 22 s ->
    73 s). The hot request paths keep the cached plans."""
    conn = connections[using]
    if conn.vendor == "postgresql" and conn.in_atomic_block:
        with conn.cursor() as cur:
            cur.execute("SET LOCAL plan_cache_mode = force_custom_plan")


def array_literal(values: Sequence) -> str:
    """A PostgreSQL array literal (``{1,2}``, ``{"a","b"}``) of `values`, for a parameter cast to an array type
    (``%s::bigint[]``), sent as one text parameter. psycopg's own list adaptation runs several Python calls for
    every element (the camt import passes hundreds of thousands); this is a few string operations each.
    The text is the same array literal psycopg would send. Strings are always quoted and
    escaped (backslash and double quote), so any text round-trips; ``None`` is ``NULL``; numbers (int,
    Decimal) as `str` gives them, dates and datetimes in ISO format."""
    parts = []
    append = parts.append
    for v in values:
        if isinstance(v, str):  # str subclasses (e.g. choices) too
            append('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"')
        elif v is None:
            append("NULL")
        elif isinstance(v, int | Decimal) and not isinstance(v, bool):
            append(str(v))
        elif isinstance(v, dt.date):  # datetime too
            append('"' + v.isoformat() + '"')
        else:
            raise TypeError(f"array_literal: unsupported value {v!r}")
    return "{" + ",".join(parts) + "}"


def any_of(queryset, field: str, values: Sequence):
    """`queryset.filter(<field>__in=values)`, on PostgreSQL as `<column> = ANY(%s)` with one array parameter:
    a list of thousands of values is then one parameter of one prepared statement, not thousands of
    placeholders that psycopg parses and PostgreSQL plans again for every batch."""
    conn = connections[router.db_for_read(queryset.model)]
    if conn.vendor != "postgresql":
        return queryset.filter(**{f"{field}__in": values})
    f = queryset.model._meta.get_field(field)
    column = f"{conn.ops.quote_name(queryset.model._meta.db_table)}.{conn.ops.quote_name(f.column)}"
    cast = f.db_type(conn).split("(")[0]  # varchar(40) -> varchar[]: the column's own type, its index applies
    return queryset.extra(where=[f"{column} = ANY(%s::{cast}[])"], params=[array_literal(values)])


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
            ids = _reserve_ids(cur, table, pk_field.column, len(chunk))
            with cur.cursor.copy(f"COPY {qn(table)} ({columns}) FROM STDIN") as copy:
                for obj, pk in zip(chunk, ids, strict=True):
                    setattr(obj, pk_field.attname, pk)
                    copy.write_row([pk, *(get(obj) for get in getters)])
    for obj in objs:
        obj._state.adding = False
        obj._state.db = conn.alias
    return objs


def _reserve_ids(cur, table: str, column: str, n: int) -> list[int]:
    """`n` new primary keys from the table's identity sequence, as one array (one row to read, not `n`)."""
    cur.execute("SELECT array_agg(nextval(pg_get_serial_sequence(%s, %s))) FROM generate_series(1, %s)",
                [table, column, n])
    return cur.fetchone()[0]


def _getter(field, conn):
    """The value of one column for an instance: the plain attribute where the ORM would not change it
    (strings, numbers, Decimal, aware datetimes, foreign key ids), else the field's own preparation."""
    from django.db import models

    attname = field.attname
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) or isinstance(
            field, models.JSONField | models.FileField):
        return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), conn)
    return lambda obj: getattr(obj, attname)


def reserve_ids(model, n: int) -> list[int] | None:
    """`n` new primary keys of `model` (PostgreSQL: from its sequence, for `insert_rows(…, ids=…)`), so that
    rows can refer to each other before they are written; None on other databases."""
    conn = connections[router.db_for_write(model)]
    if conn.vendor != "postgresql":
        return None
    if n == 0:
        return []
    with conn.cursor() as cur:
        return _reserve_ids(cur, model._meta.db_table, model._meta.pk.column, n)


def insert_rows(model, rows: list[dict], *, batch_size: int = 5000, ids: list[int] | None = None,
                returning: bool = True) -> list[int]:
    """Insert plain dicts (keys: field attnames, e.g. `tenant_id`) without building model instances;
    missing keys take the field default. Returns the new primary keys in order (`ids`: keys from
    `reserve_ids`, PostgreSQL only; `returning=False`: the database numbers the rows itself and nothing is
    returned, one round trip less per batch). The fast path for bulk jobs; other databases than PostgreSQL
    go through `bulk_create`."""
    if not rows:
        return []
    conn = connections[router.db_for_write(model)]
    if ids is not None and len(ids) != len(rows):
        raise ValueError("insert_rows: one reserved id per row")
    if conn.vendor != "postgresql":
        if ids is not None:
            raise ValueError("insert_rows: reserved ids are for PostgreSQL")
        objs = model.objects.bulk_create([model(**row) for row in rows], batch_size=batch_size)
        return [o.pk for o in objs]
    from django.db import models
    from psycopg.types.json import Jsonb

    meta = model._meta
    pk_field = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk_field]
    defaults = {}
    for f in fields:
        default = f.get_default() if f.has_default() else None
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            from django.utils import timezone

            default = timezone.now()
        defaults[f.attname] = default
    # the row's values in column order, picked in C (dict union + itemgetter): this loop runs for every
    # row of a bank statement's bulk tables
    pick = operator.itemgetter(*(f.attname for f in fields))
    attnames = {f.attname for f in fields}
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    qn = conn.ops.quote_name
    numbered = returning or ids is not None
    columns = ", ".join(qn(f.column) for f in ([pk_field, *fields] if numbered else fields))
    new_ids: list[int] = []
    with conn.cursor() as cur:
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            if ids is not None:
                chunk_ids = ids[start:start + batch_size]
            elif returning:
                chunk_ids = _reserve_ids(cur, meta.db_table, pk_field.column, len(chunk))
            else:
                chunk_ids = None
            # Django's error classes (IntegrityError, …) for the raw COPY too, as for every other statement
            with conn.wrap_database_errors, cur.cursor.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as copy:
                write = copy.write_row
                # rows that give every column (the usual case) need no union with the defaults
                complete = len(fields) > 1 and attnames <= chunk[0].keys()
                for i, row in enumerate(chunk):
                    if complete:
                        try:
                            values = pick(row)
                        except KeyError:  # this row lacks a column: its default
                            values = pick(defaults | row)
                    else:
                        values = pick(defaults | row) if len(fields) > 1 else (pick(defaults | row),)
                    if json_at:
                        values = list(values)
                        for j in json_at:
                            if values[j] is not None:
                                values[j] = Jsonb(values[j])
                    write((chunk_ids[i], *values) if chunk_ids is not None else values)
            if chunk_ids is not None:
                new_ids.extend(chunk_ids)
    return new_ids


# --------------------------------------------------------------------------- hot-path inserts

class Insert:
    """A prepared multi-row ``INSERT … RETURNING id`` for one model and a fixed list of columns.

    For the hot paths (every submission, every audit entry): the SQL is built once per row count and
    connection vendor, and values are prepared as the ORM would prepare them (see `_preparers`), so rows
    are stored exactly as with the ORM, without its per-call query compilation. PostgreSQL and SQLite
    (≥ 3.35) both support ``RETURNING``. ``sql(n)`` and ``sql_select`` give the statement alone, e.g. to
    put it into a PostgreSQL writable CTE.
    """

    def __init__(self, model, attnames: Sequence[str]):
        meta = model._meta
        self.model = model
        self.fields = [meta.get_field(a) for a in attnames]
        self.attnames = [f.attname for f in self.fields]
        self.table = meta.db_table
        self.pk_column = meta.pk.column
        self._sql: dict[tuple, str] = {}
        self._preps: dict[str, list] = {}

    def sql(self, rows: int, conn, returning: bool = True, exprs: dict[str, str] | None = None) -> str:
        """The statement; `exprs` gives SQL expressions for some columns (attname -> SQL) instead of
        parameters, e.g. ``{"case_id": "(SELECT id FROM c)"}`` inside a writable CTE (call `params` with
        the same `skip`)."""
        key = (rows, conn.vendor, returning, tuple(sorted((exprs or {}).items())))
        s = self._sql.get(key)
        if s is None:
            qn = conn.ops.quote_name
            cols = ", ".join(qn(f.column) for f in self.fields)
            one = "(" + ", ".join((exprs or {}).get(f.attname, "%s") for f in self.fields) + ")"
            s = f"INSERT INTO {qn(self.table)} ({cols}) VALUES " + ", ".join([one] * rows)
            if returning:
                s += f" RETURNING {qn(self.pk_column)}"
            self._sql[key] = s
        return s

    def sql_select(self, conn, source: str, exprs: dict[str, str] | None = None, returning: bool = True) -> str:
        """``INSERT … SELECT <one row of parameters> FROM source``: inserts one row per row of `source`
        (none if it is empty), e.g. a CTE; parameters carry casts to their column types, since PostgreSQL
        cannot infer them in a select list. `exprs` as in `sql`."""
        key = ("select", conn.vendor, source, returning, tuple(sorted((exprs or {}).items())))
        s = self._sql.get(key)
        if s is None:
            qn = conn.ops.quote_name
            cols = ", ".join(qn(f.column) for f in self.fields)
            values = ", ".join((exprs or {}).get(f.attname) or f"%s::{f.cast_db_type(conn) or f.db_type(conn)}"
                               for f in self.fields)
            s = f"INSERT INTO {qn(self.table)} ({cols}) SELECT {values} FROM {source}"
            if returning:
                s += f" RETURNING {qn(self.pk_column)}"
            self._sql[key] = s
        return s

    def params(self, rows: Sequence[dict], conn, skip: Collection[str] = (),
               expr_params: dict[str, list] | None = None) -> list:
        """Parameters in column order; columns in `skip` are given as SQL expressions instead, whose own
        parameters (if any) come from `expr_params` (one row only)."""
        preps = self._preparers(conn)
        out = []
        for row in rows:
            for attname, prep in preps:
                if attname in skip:
                    out.extend((expr_params or {}).get(attname, ()))
                    continue
                v = row[attname]
                out.append(v if v is None else prep(v))
        return out

    def rows_of(self, objs: Sequence) -> list[dict]:
        """Column values of unsaved instances, as `bulk_create` takes them (`pre_save` for auto_now)."""
        return [{f.attname: f.pre_save(obj, True) for f in self.fields} for obj in objs]

    def adopt(self, objs: Sequence, ids: Sequence[int], conn) -> None:
        """Mark instances as saved with their new primary keys."""
        pk_attname = self.model._meta.pk.attname
        for obj, pk in zip(objs, ids, strict=True):
            setattr(obj, pk_attname, pk)
            obj._state.adding = False
            obj._state.db = conn.alias

    def _preparers(self, conn) -> list[tuple]:
        """Per column (attname, prepare). On PostgreSQL psycopg adapts str, int, bool, Decimal, date
        and aware datetimes itself exactly as Django would pass them, so only JSON needs wrapping (as
        Django's `adapt_json_value` does); other databases use each field's `get_db_prep_save`."""
        key = conn.vendor
        preps = self._preps.get(key)
        if preps is None:
            from django.db import models

            preps = []
            for f in self.fields:
                if conn.vendor == "postgresql" and isinstance(f, models.JSONField) and f.encoder is None:
                    from psycopg.types.json import Jsonb

                    preps.append((f.attname, Jsonb))
                elif conn.vendor == "postgresql" and type(f) in _PG_NATIVE:
                    preps.append((f.attname, lambda v, f=f, conn=conn: v if type(v) in _PLAIN else
                                  f.get_db_prep_save(v, conn)))
                else:
                    preps.append((f.attname, lambda v, f=f, conn=conn: f.get_db_prep_save(v, conn)))
            self._preps[key] = preps
        return preps

    def execute(self, rows: Sequence[dict], *, using: str = "default") -> list[int]:
        """Insert the rows (dicts keyed by attname, every column given); their new ids in order."""
        if not rows:
            return []
        conn = connections[using]
        with conn.cursor() as cur:
            cur.execute(self.sql(len(rows), conn), self.params(rows, conn))
            return [r[0] for r in cur.fetchall()]

    @classmethod
    def for_model(cls, model) -> Insert:
        """The insert of every concrete column but the primary key (cached per model)."""
        ins = _model_inserts.get(model)
        if ins is None:
            pk = model._meta.pk
            ins = _model_inserts[model] = cls(model, [f.attname for f in model._meta.concrete_fields if f is not pk])
        return ins

    def save_new(self, objs: Sequence, *, using: str = "default") -> Sequence:
        """Insert unsaved instances (as `bulk_create` would: `pre_save` for auto_now fields) and set their pks."""
        if not objs:
            return objs
        ids = self.execute(self.rows_of(objs), using=using)
        self.adopt(objs, ids, connections[using])
        return objs


_model_inserts: dict = {}


def _pg_native_fields() -> tuple:
    from django.db import models

    return (models.CharField, models.TextField, models.SlugField, models.EmailField, models.IntegerField,
            models.BigIntegerField, models.PositiveIntegerField, models.PositiveBigIntegerField,
            models.SmallIntegerField, models.PositiveSmallIntegerField, models.BooleanField, models.ForeignKey,
            models.BigAutoField, models.AutoField, models.DateField)


_PG_NATIVE = _pg_native_fields()
_PLAIN = (str, int, bool, dt.date)  # values these fields pass to the driver unchanged


def insert_new(objs: Sequence, *, using: str = "default") -> Sequence:
    """Insert unsaved model instances of one model in one statement (hot paths); sets their pks."""
    if not objs:
        return objs
    return Insert.for_model(type(objs[0])).save_new(objs, using=using)
