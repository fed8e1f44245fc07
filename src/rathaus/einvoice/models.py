"""Inbound e-invoices (XRechnung UBL/CII): the received file, its validation, the parsed key data,
routing by Leitweg-ID and the approval case (a service package like any other)."""

from django.db import models
from django.utils.translation import gettext_noop as _noop  # labels stay German; web pages translate them

from rathaus.tenants.models import OrgUnit, Tenant

MONEY = {"max_digits": 15, "decimal_places": 2}


class InvoiceStatus(models.TextChoices):
    RECEIVED = "received", _noop("eingegangen")
    REFUSED = "refused", _noop("abgewiesen (keine gültige XML-Datei)")
    INVALID = "invalid", _noop("ungültig (zurückgewiesen)")
    MISROUTED = "misrouted", _noop("falsche Leitweg-ID")
    DUPLICATE = "duplicate", _noop("Dublette")
    IN_REVIEW = "in_review", _noop("in Prüfung")
    APPROVED = "approved", _noop("angeordnet")
    REJECTED = "rejected", _noop("abgelehnt")
    PAID = "paid", _noop("bezahlt")


class LeitwegRoute(models.Model):
    """Which org unit receives invoices addressed to a Leitweg-ID (Grob-, Fein-, Prüfziffer)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="leitweg_routes")
    leitweg_id = models.CharField("Leitweg-ID", max_length=46)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "Leitweg-Zuordnung"
        verbose_name_plural = "Leitweg-Zuordnungen"
        constraints = [models.UniqueConstraint(fields=["leitweg_id"], name="leitweg_route_unique")]

    def __str__(self):
        return f"{self.leitweg_id} -> {self.org_unit}"


class EInvoice(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="einvoices")
    document = models.ForeignKey("documents.Document", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField(default=0)
    filename = models.CharField(max_length=255, blank=True)
    channel = models.CharField(max_length=10, default="api")  # api | upload | cli | demo
    received_at = models.DateTimeField()
    received_by = models.CharField(max_length=150)
    status = models.CharField(max_length=12, choices=InvoiceStatus.choices, default=InvoiceStatus.RECEIVED)
    status_note = models.TextField(blank=True)
    # validation
    syntax = models.CharField(max_length=4, blank=True)          # UBL | CII
    document_type = models.CharField(max_length=20, blank=True)  # invoice | credit_note
    customization_id = models.CharField(max_length=200, blank=True)
    valid = models.BooleanField(null=True)
    errors = models.JSONField(default=list, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    # key data (EN 16931 business terms)
    invoice_number = models.CharField("Rechnungsnummer (BT-1)", max_length=200, blank=True)
    issue_date = models.DateField("Rechnungsdatum (BT-2)", null=True, blank=True)
    due_date = models.DateField("Fälligkeit (BT-9)", null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    seller_name = models.CharField("Verkäufer (BT-27)", max_length=200, blank=True)
    seller_vat_id = models.CharField("USt-IdNr. (BT-31)", max_length=40, blank=True)
    seller_key = models.CharField(max_length=200, blank=True)  # for duplicate detection
    leitweg_id = models.CharField("Leitweg-ID (BT-10)", max_length=46, blank=True)
    total_net = models.DecimalField("Summe netto (BT-109)", null=True, blank=True, **MONEY)
    total_tax = models.DecimalField("Umsatzsteuer (BT-110)", null=True, blank=True, **MONEY)
    total_gross = models.DecimalField("Summe brutto (BT-112)", null=True, blank=True, **MONEY)
    payable_amount = models.DecimalField("Zahlbetrag (BT-115)", null=True, blank=True, **MONEY)
    payment_iban = models.CharField("IBAN (BT-84)", max_length=34, blank=True)
    payment_terms = models.TextField("Zahlungsbedingungen (BT-20)", blank=True)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    duplicate_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="einvoice")
    payable = models.OneToOneField("finance.Payable", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="einvoice")
    rejection_message = models.TextField(blank=True)

    class Meta:
        verbose_name = "E-Rechnung"
        verbose_name_plural = "E-Rechnungen"
        ordering = ["tenant_id", "-received_at", "-id"]
        constraints = [
            # one original per seller and invoice number; duplicates are kept but point to it
            models.UniqueConstraint(
                fields=["tenant", "seller_key", "invoice_number"],
                condition=models.Q(duplicate_of__isnull=True) & ~models.Q(invoice_number="")
                & models.Q(status__in=["in_review", "approved", "rejected", "paid"]),
                name="einvoice_unique_original"),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "received_at"], name="einvoice_status"),
            # booking proposal: the seller's last invoice with a payable (services.booking_proposal)
            models.Index(fields=["tenant", "seller_key", "-received_at"], condition=models.Q(payable__isnull=False),
                         name="einvoice_seller_booked"),
        ]

    def __str__(self):
        return f"{self.seller_name} {self.invoice_number}".strip() or f"E-Rechnung {self.pk}"
