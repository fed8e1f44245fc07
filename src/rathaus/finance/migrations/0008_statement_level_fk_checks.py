# Bank transactions and allocations come in by the ten thousand (camt import): their foreign keys to
# the statement, the transaction and the receivable are checked per statement on PostgreSQL instead of
# per row at COMMIT (rathaus.core.setfk). SQLite keeps its declared foreign keys.

import django.db.models.deletion
from django.db import migrations, models

from rathaus.core.setfk import replace_declared

RELATIONS = [
    ("finance_banktransaction", "statement_id", "finance_bankstatement"),
    ("finance_allocation", "transaction_id", "finance_banktransaction"),
    ("finance_allocation", "receivable_id", "finance_receivable"),
]


class Migration(migrations.Migration):

    dependencies = [
        ('finance', '0007_fewer_fk_checks_on_bulk_rows'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='allocation',
                    name='receivable',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='finance.receivable'),
                ),
                migrations.AlterField(
                    model_name='allocation',
                    name='transaction',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='allocations', to='finance.banktransaction'),
                ),
                migrations.AlterField(
                    model_name='banktransaction',
                    name='statement',
                    field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='transactions', to='finance.bankstatement'),
                ),
            ],
            database_operations=[migrations.RunPython(*replace_declared(RELATIONS))],
        ),
    ]
