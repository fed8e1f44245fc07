"""Posted journal entries and lines are immutable in the database too: triggers refuse UPDATE and
DELETE (corrections are reversal entries)."""

from django.db import migrations

TABLES = ["ledger_journalentry", "ledger_journalline"]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            "CREATE OR REPLACE FUNCTION rathaus_journal_immutable() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'posted journal entries are immutable; post a reversal'; END; "
            "$$ LANGUAGE plpgsql;"
        )
        for t in TABLES:
            schema_editor.execute(f"CREATE TRIGGER {t}_immutable BEFORE UPDATE OR DELETE ON {t} "
                                  "FOR EACH ROW EXECUTE FUNCTION rathaus_journal_immutable();")
    elif vendor == "sqlite":
        for t in TABLES:
            for op in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {t}_no_{op.lower()} BEFORE {op} ON {t} "
                    "BEGIN SELECT RAISE(ABORT, 'posted journal entries are immutable; post a reversal'); END;"
                )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for t in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {t}_immutable ON {t};")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {t}_no_update;")
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {t}_no_delete;")
    if vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS rathaus_journal_immutable();")


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
