"""Stadtkasse: receivables (Sollstellungen) with Kassenzeichen, bank accounts, imported bank
statements, their transactions and the allocations of payments to receivables. A transaction that
cannot be allocated automatically waits in the clearing list (Klärfälle) for the treasury."""

from django.db import models
from django.utils.translation import gettext_noop as _noop  # labels stay German; web pages translate them

from rathaus.tenants.models import Tenant

MONEY = {"max_digits": 15, "decimal_places": 2}


class ReceivableStatus(models.TextChoices):
    OPEN = "open", _noop("offen")
    PARTIALLY_PAID = "partially_paid", _noop("teilweise bezahlt")
    PAID = "paid", _noop("bezahlt")
    OVERPAID = "overpaid", _noop("überzahlt")
    CANCELLED = "cancelled", _noop("storniert")


class Receivable(models.Model):
    # No single-column indexes of their own: every payment rewrites the row (status, amounts), and each index
    # costs every such update; (tenant, kassenzeichen) and the unique (case) where set cover both lookups.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="receivables", db_index=False)
    kassenzeichen = models.CharField("Kassenzeichen", max_length=12)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="receivables", db_index=False)
    debtor_name = models.CharField("Schuldner", max_length=200)
    debtor_address = models.JSONField(default=dict, blank=True)
    debtor_email = models.EmailField(blank=True)
    debtor_iban = models.CharField(max_length=34, blank=True)
    purpose = models.CharField("Zweck", max_length=200)
    amount = models.DecimalField("Betrag", **MONEY)
    paid_amount = models.DecimalField("gezahlt", default=0, **MONEY)
    open_amount = models.DecimalField("offen", **MONEY)
    status = models.CharField(max_length=20, choices=ReceivableStatus.choices, default=ReceivableStatus.OPEN)
    due_date = models.DateField("fällig am")
    product = models.CharField("Produkt", max_length=20)
    revenue_account = models.CharField("Ertragskonto", max_length=12)
    receivable_account = models.CharField("Forderungskonto", max_length=12)
    cash_account = models.CharField("Finanzrechnungskonto", max_length=12)
    cost_centre = models.CharField("Kostenstelle", max_length=20, blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "Forderung"
        verbose_name_plural = "Forderungen"
        ordering = ["tenant_id", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "kassenzeichen"], name="receivable_unique_kz"),
            models.UniqueConstraint(fields=["case"], condition=models.Q(case__isnull=False),
                                    name="receivable_one_per_case"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "due_date"], name="receivable_status_due")]

    def __str__(self):
        return f"{self.kassenzeichen_display} {self.purpose}"

    @property
    def kassenzeichen_display(self) -> str:
        k = self.kassenzeichen
        return f"{k[:4]}-{k[4:10]}-{k[10:]}" if len(k) == 12 else k


class ReceivableLine(models.Model):
    receivable = models.ForeignKey(Receivable, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    fee_id = models.CharField(max_length=60, blank=True)
    title = models.CharField(max_length=300)
    legal_basis = models.CharField(max_length=300, blank=True)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["receivable_id", "position"]

    def __str__(self):
        return f"{self.title}: {self.amount}"


class BankAccount(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="bank_accounts")
    iban = models.CharField("IBAN", max_length=34)
    bic = models.CharField("BIC", max_length=11, blank=True)
    name = models.CharField("Bezeichnung", max_length=200)
    ledger_account = models.CharField("Sachkonto (liquide Mittel)", max_length=12)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "Bankkonto"
        verbose_name_plural = "Bankkonten"
        constraints = [models.UniqueConstraint(fields=["tenant", "iban"], name="bankaccount_unique_iban")]

    def __str__(self):
        return f"{self.name} ({self.iban})"


class BankStatement(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="bank_statements")
    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="statements")
    version = models.CharField(max_length=30)
    message_id = models.CharField(max_length=140, blank=True)
    statement_id = models.CharField(max_length=140, blank=True)
    electronic_seq = models.CharField(max_length=40, blank=True)
    from_date = models.DateTimeField(null=True, blank=True)
    to_date = models.DateTimeField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    document = models.ForeignKey("documents.Document", on_delete=models.PROTECT, null=True, blank=True)
    entries = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    unmatched = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    imported_at = models.DateTimeField()
    imported_by = models.CharField(max_length=150)

    class Meta:
        verbose_name = "Kontoauszug"
        verbose_name_plural = "Kontoauszüge"
        ordering = ["tenant_id", "-imported_at"]

    def __str__(self):
        return f"Kontoauszug {self.statement_id} ({self.imported_at:%d.%m.%Y})"


class BankTransaction(models.Model):
    """One booked payment of a statement (a camt Ntry, or one TxDtls of a batch booking)."""

    class State(models.TextChoices):
        MATCHED = "matched", "zugeordnet"
        ASSIGNED = "assigned", "manuell zugeordnet"
        CLEARING = "clearing", "Klärfall"
        IGNORED = "ignored", "nicht zuzuordnen (erledigt)"
        REFUNDED = "refunded", "zurücküberwiesen"

    # tenant and bank account are covered by the unique (tenant, bank_account, fingerprint) index
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="bank_transactions", db_index=False,
                               db_constraint=False)  # denormalised from the statement (bulk inserts)
    # bulk rows: on PostgreSQL checked per statement, not per row (core.setfk; migration finance 0008)
    statement = models.ForeignKey(BankStatement, on_delete=models.PROTECT, related_name="transactions",
                                  db_constraint=False)
    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="transactions",
                                     db_index=False, db_constraint=False)  # denormalised from the statement
    fingerprint = models.CharField(max_length=64)
    booking_date = models.DateField()
    value_date = models.DateField(null=True, blank=True)
    amount = models.DecimalField(**MONEY)
    credit = models.BooleanField()
    reversal = models.BooleanField(default=False)
    currency = models.CharField(max_length=3, default="EUR")
    remittance = models.TextField(blank=True)
    end_to_end_id = models.CharField(max_length=140, blank=True)
    counterparty_name = models.CharField(max_length=200, blank=True)
    counterparty_iban = models.CharField(max_length=34, blank=True)
    bank_reference = models.CharField(max_length=140, blank=True)
    bank_tx_code = models.CharField(max_length=60, blank=True)
    return_reason = models.CharField(max_length=10, blank=True)
    state = models.CharField(max_length=10, choices=State.choices)
    unallocated = models.DecimalField("nicht zugeordnet", **MONEY)
    note = models.CharField(max_length=300, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "Kontoumsatz"
        verbose_name_plural = "Kontoumsätze"
        ordering = ["tenant_id", "booking_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "bank_account", "fingerprint"], name="banktx_unique_fp"),
        ]
        # only the clearing list is read by state: matched transactions (nine in ten) need no entry, and every
        # imported transaction paid for one
        indexes = [models.Index(fields=["tenant", "booking_date", "id"], condition=models.Q(state="clearing"),
                                name="banktx_clearing")]

    def __str__(self):
        return f"{self.booking_date} {'+' if self.credit else '-'}{self.amount} {self.counterparty_name}"


class Allocation(models.Model):
    """The part of a bank transaction that settles a receivable (Zuordnung)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)  # denormalised from the transaction (bulk inserts)
    # bulk rows: on PostgreSQL checked per statement, not per row (core.setfk; migration finance 0008)
    transaction = models.ForeignKey(BankTransaction, on_delete=models.PROTECT, related_name="allocations",
                                    db_constraint=False)
    receivable = models.ForeignKey(Receivable, on_delete=models.PROTECT, related_name="allocations",
                                   db_constraint=False)
    amount = models.DecimalField(**MONEY)
    manual = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"{self.amount} -> {self.receivable_id}"


class PayableStatus(models.TextChoices):
    OPEN = "open", _noop("offen")
    SCHEDULED = "scheduled", _noop("im Zahlungslauf")
    PAID = "paid", _noop("bezahlt")
    CANCELLED = "cancelled", _noop("storniert")


class Payable(models.Model):
    """A Verbindlichkeit to pay (from an approved e-invoice: Anordnung), paid by SEPA credit transfer."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="payables")
    number = models.CharField("Anordnungsnummer", max_length=30)
    creditor_name = models.CharField("Zahlungsempfänger", max_length=140)
    creditor_iban = models.CharField("IBAN", max_length=34)
    creditor_bic = models.CharField("BIC", max_length=11, blank=True)
    remittance = models.CharField("Verwendungszweck", max_length=140)
    amount = models.DecimalField("Betrag", **MONEY)
    discount_amount = models.DecimalField("Skonto", default=0, **MONEY)
    discount_until = models.DateField("Skonto bis", null=True, blank=True)
    due_date = models.DateField("fällig am")
    payable_account = models.CharField("Verbindlichkeitskonto", max_length=12)
    status = models.CharField(max_length=12, choices=PayableStatus.choices, default=PayableStatus.OPEN)
    payment_run = models.ForeignKey("PaymentRun", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="payables")
    paid_amount = models.DecimalField("gezahlt", default=0, **MONEY)
    source_type = models.CharField(max_length=30, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = "Verbindlichkeit"
        verbose_name_plural = "Verbindlichkeiten"
        ordering = ["tenant_id", "due_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="payable_unique_number"),
            models.UniqueConstraint(fields=["tenant", "source_type", "source_id"],
                                    condition=~models.Q(source_id=""), name="payable_unique_source"),
        ]
        indexes = [models.Index(fields=["tenant", "status", "due_date"], name="payable_status_due")]

    def __str__(self):
        return f"{self.number} {self.creditor_name} {self.amount}"


class PayableLine(models.Model):
    """Kontierung of a payable: expense account, product, cost centre and the Auszahlungskonto.

    `amount` is the line's share of the liability (what is paid). For a Kontierung of a Betrieb
    gewerblicher Art (`input_vat_area` says which, decided at the Anordnung) `input_vat` is the invoiced VAT
    in it, booked as Vorsteuer, and `reverse_charge_vat` the VAT the municipality owes as the recipient
    (§ 13b / § 1a UStG), booked as Vorsteuer and Umsatzsteuer; the expense is `amount - input_vat`."""

    payable = models.ForeignKey(Payable, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField()
    account = models.CharField("Aufwandskonto", max_length=12)
    product = models.CharField("Produkt", max_length=20, blank=True)
    cost_centre = models.CharField("Kostenstelle", max_length=20, blank=True)
    cash_account = models.CharField("Auszahlungskonto", max_length=12)
    amount = models.DecimalField(**MONEY)
    text = models.CharField(max_length=200, blank=True)
    input_vat_area = models.CharField("Vorsteuerabzug wegen", max_length=250, blank=True,
                                      help_text="Produkt oder Kostenstelle des Betriebs gewerblicher Art; leer: "
                                                "hoheitlicher Bereich (Aufwand brutto)")
    input_vat = models.DecimalField("Vorsteuer (im Betrag enthalten)", default=0, **MONEY)
    reverse_charge_vat = models.DecimalField("Steuer des Leistungsempfängers (§ 13b, § 1a UStG)", default=0,
                                             **MONEY)

    class Meta:
        ordering = ["payable_id", "position"]

    def __str__(self):
        return f"{self.account} {self.amount}"

    @property
    def expense(self):
        """The amount posted to the expense account: net for a Betrieb gewerblicher Art, else gross."""
        return self.amount - self.input_vat


class PaymentRun(models.Model):
    """A Zahlungslauf: one SEPA credit transfer file (pain.001) with the payables it pays."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="payment_runs")
    bank_account = models.ForeignKey(BankAccount, on_delete=models.PROTECT, related_name="payment_runs")
    number = models.CharField(max_length=30)
    message_id = models.CharField(max_length=35)
    execution_date = models.DateField("Ausführungsdatum")
    count = models.PositiveIntegerField()
    total = models.DecimalField(**MONEY)
    schema = models.CharField(max_length=30)
    document = models.ForeignKey("documents.Document", on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)

    class Meta:
        verbose_name = "Zahlungslauf"
        verbose_name_plural = "Zahlungsläufe"
        ordering = ["tenant_id", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="paymentrun_unique_number")]

    def __str__(self):
        return f"Zahlungslauf {self.number} ({self.count} Zahlungen, {self.total})"


class PaymentRunItem(models.Model):
    """One credit transfer of a run (amount after Skonto, end-to-end id used to match the debit)."""

    run = models.ForeignKey(PaymentRun, on_delete=models.PROTECT, related_name="items")
    payable = models.ForeignKey(Payable, on_delete=models.PROTECT, related_name="run_items")
    end_to_end_id = models.CharField(max_length=35)
    amount = models.DecimalField(**MONEY)
    discount = models.DecimalField(default=0, **MONEY)
    paid = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["end_to_end_id"], name="runitem_unique_e2e")]

    def __str__(self):
        return f"{self.end_to_end_id} {self.amount}"
