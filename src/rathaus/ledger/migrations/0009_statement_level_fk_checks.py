# Journal lines come in by the ten thousand (collective entries of the camt import): their foreign keys
# to the entry and the account are checked per statement on PostgreSQL instead of per row at COMMIT
# (rathaus.core.setfk). SQLite keeps its declared foreign keys (and its tables and triggers: no rebuild).

import django.db.models.deletion
from django.db import migrations, models

from rathaus.core.setfk import replace_declared

RELATIONS = [
    ("ledger_journalline", "entry_id", "ledger_journalentry"),
    ("ledger_journalline", "account_id", "ledger_account"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0008_ordering_without_join'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='journalline',
                    name='account',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='ledger.account'),
                ),
                migrations.AlterField(
                    model_name='journalline',
                    name='entry',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='lines', to='ledger.journalentry'),
                ),
            ],
            database_operations=[migrations.RunPython(*replace_declared(RELATIONS))],
        ),
    ]
