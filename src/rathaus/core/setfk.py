"""Foreign keys checked per statement, for the bulk tables of PostgreSQL.

A PostgreSQL foreign key is checked row by row: one trigger event per inserted row, queued until
COMMIT (Django declares them DEFERRABLE INITIALLY DEFERRED), then one lookup of the referenced row
each. For the camt import (tens of thousands of bank transactions, allocations, journal lines) that
made the COMMIT the slowest step. A statement-level trigger with a transition table checks all rows of
one INSERT/COPY/UPDATE in one anti-join instead: the same rule (every reference points at an existing
row; a referenced row cannot be deleted while referenced), a fraction of the cost.

Differences to a declared foreign key, and why they do not matter for the tables this is used on:
- checked at the end of each statement, not at COMMIT: the parent must exist first (the services
  insert the parent first; a violation raises `foreign_key_violation` like a declared key);
- no row lock on the referenced row: a delete of the parent that runs concurrently with an insert
  referring to it could slip through. The referenced tables here are never deleted from by the
  application (journal entries are immutable by trigger, accounts, receivables, statements and bank
  transactions are protected by `on_delete=PROTECT` and cancelled, not deleted); the delete trigger is
  the second line of defence.

SQLite keeps its declared foreign keys (migrations touch PostgreSQL only).
"""

from __future__ import annotations


def _names(child: str, column: str) -> tuple[str, str, str]:
    base = f"{child}_{column}_fk"[:50]
    return base, f"{base}_chk", f"{base}_ref"


def install_sql(child: str, column: str, parent: str, parent_column: str = "id") -> list[str]:
    """SQL that replaces the declared foreign key `child.column -> parent.parent_column`."""
    base, chk, ref = _names(child, column)
    return [
        f"""CREATE OR REPLACE FUNCTION {chk}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows n WHERE n.{column} IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE p.{parent_column} = n.{column})) THEN
    RAISE EXCEPTION 'insert or update on table "{child}" violates foreign key "{base}"'
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = 'A value of {column} is not present in table "{parent}".';
  END IF;
  RETURN NULL;
END $f$""",
        f"""CREATE OR REPLACE FUNCTION {ref}() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF EXISTS (SELECT 1 FROM old_rows o JOIN {child} c ON c.{column} = o.{parent_column}) THEN
    RAISE EXCEPTION 'delete on table "{parent}" violates foreign key "{base}" on table "{child}"'
      USING ERRCODE = 'foreign_key_violation',
            DETAIL = 'A row of {parent} is still referenced from table "{child}".';
  END IF;
  RETURN NULL;
END $f$""",
        f"CREATE TRIGGER {base}_ins AFTER INSERT ON {child} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {chk}()",
        f"CREATE TRIGGER {base}_upd AFTER UPDATE ON {child} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {chk}()",
        f"CREATE TRIGGER {base}_del AFTER DELETE ON {parent} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {ref}()",
    ]


def uninstall_sql(child: str, column: str, parent: str) -> list[str]:
    base, chk, ref = _names(child, column)
    return [
        f"DROP TRIGGER IF EXISTS {base}_ins ON {child}",
        f"DROP TRIGGER IF EXISTS {base}_upd ON {child}",
        f"DROP TRIGGER IF EXISTS {base}_del ON {parent}",
        f"DROP FUNCTION IF EXISTS {chk}()",
        f"DROP FUNCTION IF EXISTS {ref}()",
    ]


def _declared_constraints(cursor, child: str, column: str) -> list[str]:
    cursor.execute(
        "SELECT c.conname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
        "AND a.attnum = ANY(c.conkey) WHERE c.contype = 'f' AND c.conrelid = %s::regclass AND a.attname = %s",
        [child, column])
    return [r[0] for r in cursor.fetchall()]


def replace_declared(relations):
    """A RunPython forwards function: on PostgreSQL, drop the declared foreign keys of `relations`
    ((child table, column, parent table), ...) and install the statement-level checks."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cur:
            for child, column, parent in relations:
                for name in _declared_constraints(cur, child, column):
                    cur.execute(f'ALTER TABLE {child} DROP CONSTRAINT "{name}"')
                for sql in install_sql(child, column, parent):
                    cur.execute(sql)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cur:
            for child, column, parent in relations:
                for sql in uninstall_sql(child, column, parent):
                    cur.execute(sql)
                if not _declared_constraints(cur, child, column):
                    cur.execute(f'ALTER TABLE {child} ADD CONSTRAINT "{_names(child, column)[0]}" FOREIGN KEY '
                                f"({column}) REFERENCES {parent} (id) DEFERRABLE INITIALLY DEFERRED")

    return forwards, backwards
