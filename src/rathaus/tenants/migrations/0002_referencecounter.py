# The reference counter moves from cases to tenants (tenants.numbering): every app that numbers things
# (cases, finance, ledger) sits above tenants. cases 0006 copies the counters and drops its table.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tenants", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="ReferenceCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("prefix", models.CharField(max_length=10)),
                ("year", models.PositiveIntegerField()),
                ("value", models.PositiveBigIntegerField(default=0)),
                ("tenant", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="tenants.tenant")),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("tenant", "prefix", "year"), name="reference_counter_unique")
                ],
            },
        ),
    ]
