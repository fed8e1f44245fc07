"""Numbers that run per tenant, prefix and year, without gaps: Aktenzeichen (``GEW-2026-000001``),
Kassenzeichen counters (``KZ``), Belegnummern of the journal (``JOURNAL``) and of payables.

One counter row per (tenant, prefix, year), incremented under its row lock, so the numbers a
transaction takes are gap-free and nobody else can take them before it commits. Every app that
numbers things uses this module; it lives with the tenant because a counter belongs to one.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction

from .models import ReferenceCounter

COUNTER_TABLE = ReferenceCounter._meta.db_table

_INCREMENT = (f"UPDATE {COUNTER_TABLE} SET value = value + %s WHERE tenant_id = %s AND prefix = %s AND year = %s "
              "RETURNING value")

# PostgreSQL: the next number of (tenant, prefix, year) in one statement, creating the year's counter on
# its first use, and the reference formatted as format_reference() does (at least six digits); parameters
# tenant_id, prefix, year, "<prefix>-<year>-". The upsert draws a value of the counter table's id sequence
# each time, which is harmless (ids of counters are not numbers of anything). For use in a CTE.
PG_UPSERT_NEXT = (
    f"INSERT INTO {COUNTER_TABLE} AS r (tenant_id, prefix, year, value) VALUES (%s, %s, %s, 1) "
    "ON CONFLICT (tenant_id, prefix, year) DO UPDATE SET value = r.value + 1 "
    "RETURNING r.value, %s::text || lpad(r.value::text, greatest(6, length(r.value::text)), '0') AS reference"
)


def next_number(tenant_id: int, prefix: str, year: int, count: int = 1) -> int:
    """Increment the (tenant, prefix, year) counter by `count` under a row lock and return the first
    of the reserved numbers; gap-free within the transaction."""
    with connection.cursor() as cur:
        cur.execute(_INCREMENT, [count, tenant_id, prefix, year])
        row = cur.fetchone()
        if row is None:
            try:
                with transaction.atomic():
                    ReferenceCounter.objects.create(tenant_id=tenant_id, prefix=prefix, year=year, value=0)
            except IntegrityError:
                pass  # created concurrently
            cur.execute(_INCREMENT, [count, tenant_id, prefix, year])
            row = cur.fetchone()
    return int(row[0]) - count + 1


def format_reference(prefix: str, year: int, number: int) -> str:
    """``GEW-2026-000042``: prefix, year and at least six digits."""
    return f"{prefix}-{year}-{number:06d}"
