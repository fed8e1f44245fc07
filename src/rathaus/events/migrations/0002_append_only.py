"""Audit entries are append-only in the database too (triggers refuse UPDATE and DELETE)."""

from django.db import migrations


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            """
            CREATE OR REPLACE FUNCTION rathaus_audit_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'audit entries are append-only'; END; $$ LANGUAGE plpgsql;
            """
        )
        schema_editor.execute(
            "CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON events_auditentry "
            "FOR EACH ROW EXECUTE FUNCTION rathaus_audit_append_only();"
        )
    elif vendor == "sqlite":
        for op in ("UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER audit_no_{op.lower()} BEFORE {op} ON events_auditentry "
                "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;"
            )


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_no_update ON events_auditentry;")
        schema_editor.execute("DROP FUNCTION IF EXISTS rathaus_audit_append_only();")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_no_update;")
        schema_editor.execute("DROP TRIGGER IF EXISTS audit_no_delete;")


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
