"""Kommunale Doppik: chart of accounts (Kontenrahmen), products (Produktrahmen), cost centres,
fiscal periods and the journal. Journal entries are immutable once posted: corrections are
reversals (`services.reverse_entry`); database triggers refuse UPDATE and DELETE on posted rows.

Finanzrechnung: a line that is the counter-entry of a movement of liquid funds carries the
Finanzrechnungskonto (`cash_account`, classes 6/7). Its cash flow is credit − debit: positive is
an Einzahlung, negative an Auszahlung. The Finanzrechnung is the sum of these flows by account.

Vorsteuer: a product or cost centre marked `input_vat_deductible` belongs to a Betrieb gewerblicher Art
(or the unternehmerischer Bereich, § 2b UStG). An invoice booked to it is posted net, its VAT as
Vorsteuer (`Account.Role.INPUT_VAT`); everything else is the hoheitlicher Bereich and booked gross.
"""

from django.db import models

from rathaus.tenants.models import OrgUnit, Tenant

MONEY = {"max_digits": 15, "decimal_places": 2}


class Account(models.Model):
    """A Sachkonto of the tenant's Kontenrahmen (e.g. NKF NRW)."""

    class Kind(models.TextChoices):
        BALANCE = "balance", "Bestandskonto (Bilanz)"
        RESULT = "result", "Ergebniskonto (Ergebnisrechnung)"
        CASH = "cash", "Finanzrechnungskonto"
        CLOSING = "closing", "Abschlusskonto"

    class Role(models.TextChoices):
        NONE = "", "–"
        BANK = "bank", "Bank (Standard)"
        RECEIVABLES_FEES = "receivables_fees", "Forderungen aus Gebühren/Entgelten"
        RECEIVABLES_TAXES = "receivables_taxes", "Forderungen aus Steuern"
        SUSPENSE = "suspense", "Verwahrgelder / ungeklärte Einzahlungen"
        OVERPAYMENTS = "overpayments", "Verbindlichkeiten aus Überzahlungen"
        PAYABLES = "payables", "Verbindlichkeiten aus Lieferungen und Leistungen"
        SUSPENSE_CASH_IN = "suspense_cash_in", "Haushaltsunwirksame Einzahlungen"
        SUSPENSE_CASH_OUT = "suspense_cash_out", "Haushaltsunwirksame Auszahlungen"
        # Umsatzsteuer of the Betriebe gewerblicher Art / the unternehmerischer Bereich (§ 2b UStG):
        # the deductible input VAT of their invoices (a claim against the tax office) and the VAT the
        # municipality owes itself as the recipient (§ 13b UStG reverse charge, § 1a UStG acquisitions)
        INPUT_VAT = "input_vat", "Vorsteuer"
        OUTPUT_VAT = "output_vat", "Umsatzsteuer (Verbindlichkeit gegenüber dem Finanzamt)"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="accounts")
    number = models.CharField("Kontonummer", max_length=12)
    name = models.CharField("Bezeichnung", max_length=200)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    liquid = models.BooleanField("Liquide Mittel", default=False)
    role = models.CharField("Funktion", max_length=30, choices=Role.choices, blank=True, default="")
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(
        "Position Ergebnis-/Finanzrechnung", null=True, blank=True,
        help_text="Zeile der Ergebnisrechnung (Klassen 4/5) bzw. Finanzrechnung (Klassen 6/7), siehe ledger/positions.py")

    class Meta:
        verbose_name = "Sachkonto"
        verbose_name_plural = "Sachkonten"
        ordering = ["tenant_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "number"], name="account_unique_number"),
            models.UniqueConstraint(fields=["tenant", "role"], condition=~models.Q(role=""),
                                    name="account_unique_role"),
        ]

    def __str__(self):
        return f"{self.number} {self.name}"

    @property
    def account_class(self) -> int:
        return int(self.number[0])


class ChartGroup(models.Model):
    """A heading of the Kontenrahmen (Kontenklasse "4", Kontengruppe "43", Kontenart "431") or of the
    Produktrahmen (Produktbereich "02", Produktgruppe "02.2"). Used for names and subtotals in the
    reports; postings always go to Sachkonten and Produkte."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", "Kontenrahmen"
        PRODUCT = "product", "Produktrahmen"

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="chart_groups")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    number = models.CharField("Nummer", max_length=20)
    name = models.CharField("Bezeichnung", max_length=200)
    position = models.PositiveSmallIntegerField("Position Ergebnis-/Finanzrechnung", null=True, blank=True)

    class Meta:
        verbose_name = "Gliederungsebene"
        verbose_name_plural = "Gliederungsebenen (Konten-/Produktrahmen)"
        ordering = ["tenant_id", "kind", "number"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "number"], name="chartgroup_unique")]

    def __str__(self):
        return f"{self.number} {self.name}"


class Product(models.Model):
    """A Produkt of the Produktrahmen (e.g. 02.2.01 Gewerbeangelegenheiten)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="products")
    number = models.CharField("Produktnummer", max_length=20)
    name = models.CharField("Bezeichnung", max_length=200)
    active = models.BooleanField(default=True)
    input_vat_deductible = models.BooleanField(
        "Vorsteuerabzug (BgA / § 2b UStG)", default=False,
        help_text="Betrieb gewerblicher Art oder unternehmerischer Bereich nach § 2b UStG: die Vorsteuer aus "
                  "Eingangsrechnungen wird abgezogen, der Aufwand netto gebucht (jede Kontierung dieses Produkts).")

    class Meta:
        verbose_name = "Produkt"
        verbose_name_plural = "Produkte"
        ordering = ["tenant_id", "number"]
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="product_unique_number")]

    def __str__(self):
        return f"{self.number} {self.name}"

    @property
    def area(self) -> str:
        """Produktbereich (first group of the number, e.g. "02")."""
        return self.number.split(".")[0]


class CostCentre(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="cost_centres")
    code = models.CharField("Kostenstelle", max_length=20)
    name = models.CharField("Bezeichnung", max_length=200)
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.SET_NULL, null=True, blank=True)
    active = models.BooleanField(default=True)
    input_vat_deductible = models.BooleanField(
        "Vorsteuerabzug (BgA / § 2b UStG)", default=False,
        help_text="Betrieb gewerblicher Art oder unternehmerischer Bereich nach § 2b UStG: die Vorsteuer aus "
                  "Eingangsrechnungen wird abgezogen, der Aufwand netto gebucht (jede Kontierung dieser "
                  "Kostenstelle).")

    class Meta:
        verbose_name = "Kostenstelle"
        verbose_name_plural = "Kostenstellen"
        ordering = ["tenant_id", "code"]
        constraints = [models.UniqueConstraint(fields=["tenant", "code"], name="costcentre_unique_code")]

    def __str__(self):
        return f"{self.code} {self.name}"


class FiscalPeriod(models.Model):
    """A closed (or re-opened) posting period. month 0 stands for the whole fiscal year.
    Periods without a row are open."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="fiscal_periods")
    year = models.PositiveIntegerField()
    month = models.PositiveSmallIntegerField(default=0)
    closed = models.BooleanField(default=True)
    changed_at = models.DateTimeField(auto_now=True)
    changed_by = models.CharField(max_length=150, blank=True)

    class Meta:
        verbose_name = "Buchungsperiode"
        verbose_name_plural = "Buchungsperioden"
        constraints = [models.UniqueConstraint(fields=["tenant", "year", "month"], name="period_unique")]

    def __str__(self):
        return f"{self.year}/{self.month:02d} {'geschlossen' if self.closed else 'offen'}"


class JournalEntry(models.Model):
    """A posted Buchung (Beleg) with its lines. Immutable; `source_ref` makes posting idempotent."""

    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="journal_entries",
                               db_index=False)  # covered by the unique (tenant, source_ref) index
    year = models.PositiveIntegerField()
    number = models.PositiveIntegerField("Belegnummer")
    date = models.DateField("Buchungsdatum")
    text = models.CharField("Buchungstext", max_length=300)
    source_type = models.CharField(max_length=40, blank=True)
    source_ref = models.CharField(max_length=120)
    reversal_of = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="reversed_by")
    total = models.DecimalField(**MONEY)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150)

    class Meta:
        verbose_name = "Buchung"
        verbose_name_plural = "Journal"
        ordering = ["tenant_id", "year", "number"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "source_ref"], name="journal_unique_source"),
            models.UniqueConstraint(fields=["tenant", "year", "number"], name="journal_unique_number"),
        ]

    def __str__(self):
        return f"{self.year}-{self.number:07d} {self.text}"


class JournalLine(models.Model):
    # Few indexes on purpose: lines are written in bulk (bank statement imports) and read by tenant and
    # year (the composite index below); single-column FK indexes would only slow the inserts down.
    # entry and account: on PostgreSQL checked per statement, not per row (core.setfk; migration ledger 0009)
    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines", db_constraint=False)
    # denormalised from the entry; the posting service checks account, product, cost centre and cash
    # account, so the bulk inserts skip these deferred FK checks (PROTECT still holds: Django's collector)
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="+", db_index=False,
                               db_constraint=False)
    year = models.PositiveIntegerField()
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="lines", db_constraint=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, null=True, blank=True, related_name="lines",
                                db_index=False, db_constraint=False)
    cost_centre = models.ForeignKey(CostCentre, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="lines", db_index=False, db_constraint=False)
    cash_account = models.ForeignKey(Account, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="cash_lines", db_index=False, db_constraint=False)
    debit = models.DecimalField("Soll", default=0, **MONEY)
    credit = models.DecimalField("Haben", default=0, **MONEY)
    text = models.CharField(max_length=300, blank=True)

    class Meta:
        verbose_name = "Buchungszeile"
        verbose_name_plural = "Buchungszeilen"
        indexes = [models.Index(fields=["tenant", "year", "account"], name="jline_account_year")]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(debit__gt=0, credit=0) | models.Q(debit=0, credit__gt=0)),
                name="jline_one_side_positive",
            )
        ]

    def __str__(self):
        return f"{self.account_id} S {self.debit} H {self.credit}"


class BudgetLine(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, related_name="budget_lines")
    year = models.PositiveIntegerField("Haushaltsjahr")
    product = models.CharField("Produkt", max_length=20)
    account = models.CharField("Konto", max_length=12)
    amount = models.DecimalField("Ansatz", max_digits=15, decimal_places=2)

    class Meta:
        verbose_name = "Haushaltsansatz"
        verbose_name_plural = "Haushaltsansätze"
        constraints = [models.UniqueConstraint(fields=["tenant", "year", "product", "account"],
                                               name="budget_unique_line")]

    def __str__(self):
        return f"{self.year} {self.product} {self.account}: {self.amount}"
