# The counters move to tenants.ReferenceCounter (tenants 0002): copied with their values, so that every
# Aktenzeichen, Kassenzeichen and Belegnummer goes on where it stopped; then the old table is dropped.

from django.db import migrations


def copy_counters(apps, schema_editor):
    old = apps.get_model("cases", "ReferenceCounter")
    new = apps.get_model("tenants", "ReferenceCounter")
    new.objects.bulk_create(
        [new(tenant_id=c.tenant_id, prefix=c.prefix, year=c.year, value=c.value) for c in old.objects.all()],
        batch_size=1000,
    )


def copy_back(apps, schema_editor):
    old = apps.get_model("cases", "ReferenceCounter")
    new = apps.get_model("tenants", "ReferenceCounter")
    old.objects.bulk_create(
        [old(tenant_id=c.tenant_id, prefix=c.prefix, year=c.year, value=c.value) for c in new.objects.all()],
        batch_size=1000,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("cases", "0005_case_org_unit"),
        ("tenants", "0002_referencecounter"),
    ]

    operations = [
        migrations.RunPython(copy_counters, copy_back),
        migrations.DeleteModel(name="ReferenceCounter"),
    ]
