import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The outbox's tenant index: every change writes an outbox row (a bank statement tens of thousands),
    and nothing reads the outbox by tenant. Only the index is dropped (no table rebuild on SQLite)."""

    dependencies = [
        ('events', '0005_fewer_fk_checks_on_bulk_rows'),
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL("DROP INDEX IF EXISTS events_outboxevent_tenant_id_2ece3744",
                                  reverse_sql="CREATE INDEX events_outboxevent_tenant_id_2ece3744 "
                                              "ON events_outboxevent (tenant_id)"),
            ],
            state_operations=[
                migrations.AlterField(
                    model_name='outboxevent',
                    name='tenant',
                    field=models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='outbox_events', to='tenants.tenant'),
                ),
            ],
        ),
    ]
