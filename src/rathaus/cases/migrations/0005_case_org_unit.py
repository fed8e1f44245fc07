import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def backfill(apps, schema_editor):
    """Existing cases: the unit of their service version; approval cases of inbound invoices: the unit the
    invoice was routed to (its Leitweg-ID)."""
    Case = apps.get_model("cases", "Case")
    ServiceVersion = apps.get_model("catalog", "ServiceVersion")
    EInvoice = apps.get_model("einvoice", "EInvoice")
    Case.objects.update(org_unit_id=Subquery(
        ServiceVersion.objects.filter(pk=OuterRef("service_version_id")).values("org_unit_id")[:1]))
    routed = EInvoice.objects.filter(case_id=OuterRef("pk"), org_unit__isnull=False).values("org_unit_id")[:1]
    Case.objects.filter(pk__in=EInvoice.objects.filter(case__isnull=False, org_unit__isnull=False)
                        .values("case_id")).update(org_unit_id=Subquery(routed))


class Migration(migrations.Migration):
    """The unit a case belongs to, for need-to-know reading (cases.services.visible_cases)."""

    dependencies = [
        ('cases', '0004_workflow_state_as_text'),
        ('tenants', '0001_initial'),
        ('catalog', '0001_initial'),
        ('einvoice', '0003_ordering_without_join'),
    ]

    operations = [
        migrations.AddField(
            model_name='case',
            name='org_unit',
            field=models.ForeignKey(blank=True, db_index=False, null=True,
                                    on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                    to='tenants.orgunit', verbose_name='Organisationseinheit'),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
