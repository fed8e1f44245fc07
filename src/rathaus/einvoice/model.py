"""One neutral invoice model for UBL and UN/CEFACT CII: the semantic model of EN 16931-1 with its
business terms (BT-n) and business groups (BG-n). Amounts are `Decimal`, dates `datetime.date`.

`rathaus.einvoice.parse.parse_invoice` fills it from either syntax; the German view
(`rathaus.einvoice.render`) and the E-Akte work on it only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from rathaus.core.validators import is_valid_leitweg_id


@dataclass
class Identifier:
    value: str
    scheme: str | None = None          # schemeID / listID


@dataclass
class Address:                          # BG-5 / BG-8 / BG-12 / BG-15
    line1: str | None = None            # BT-35 / BT-50 / BT-64 / BT-75
    line2: str | None = None            # BT-36
    line3: str | None = None            # BT-162
    city: str | None = None             # BT-37
    postcode: str | None = None         # BT-38
    subdivision: str | None = None      # BT-39
    country: str | None = None          # BT-40


@dataclass
class Contact:                          # BG-6 / BG-9
    name: str | None = None             # BT-41 / BT-56
    phone: str | None = None            # BT-42 / BT-57
    email: str | None = None            # BT-43 / BT-58


@dataclass
class Party:                            # BG-4 seller / BG-7 buyer / BG-10 payee / BG-11 tax representative
    name: str | None = None             # BT-27 / BT-44 / BT-59 / BT-62
    trading_name: str | None = None     # BT-28 / BT-45
    identifiers: list[Identifier] = field(default_factory=list)   # BT-29 / BT-46 / BT-60
    legal_registration_id: Identifier | None = None               # BT-30 / BT-47 / BT-61
    legal_info: str | None = None       # BT-33 additional legal information
    vat_id: str | None = None           # BT-31 / BT-48 / BT-63
    tax_registration_id: str | None = None  # BT-32
    electronic_address: Identifier | None = None  # BT-34 / BT-49
    address: Address | None = None
    contact: Contact | None = None


@dataclass
class Period:                           # BG-14 / BG-26
    start: date | None = None           # BT-73 / BT-134
    end: date | None = None             # BT-74 / BT-135


@dataclass
class Delivery:                         # BG-13
    name: str | None = None             # BT-70
    location_id: Identifier | None = None  # BT-71
    date: date | None = None            # BT-72
    address: Address | None = None      # BG-15


@dataclass
class CreditTransfer:                   # BG-17
    account_id: str | None = None       # BT-84 (IBAN)
    account_name: str | None = None     # BT-85
    bic: str | None = None              # BT-86


@dataclass
class PaymentCard:                      # BG-18
    pan: str | None = None              # BT-87
    holder: str | None = None           # BT-88


@dataclass
class DirectDebit:                      # BG-19
    mandate_id: str | None = None       # BT-89
    creditor_id: str | None = None      # BT-90
    debited_account: str | None = None  # BT-91


@dataclass
class PaymentInstructions:              # BG-16
    means_code: str | None = None       # BT-81
    means_text: str | None = None       # BT-82
    remittance_information: str | None = None  # BT-83
    credit_transfers: list[CreditTransfer] = field(default_factory=list)
    card: PaymentCard | None = None
    direct_debit: DirectDebit | None = None


@dataclass
class AllowanceCharge:                  # BG-20 / BG-21 / BG-27 / BG-28
    charge: bool                        # False: allowance (Nachlass), True: charge (Zuschlag)
    amount: Decimal | None = None       # BT-92 / BT-99 / BT-136 / BT-141
    base_amount: Decimal | None = None  # BT-93 / BT-100 / BT-137 / BT-142
    percentage: Decimal | None = None   # BT-94 / BT-101 / BT-138 / BT-143
    vat_category: str | None = None     # BT-95 / BT-102
    vat_rate: Decimal | None = None     # BT-96 / BT-103
    reason: str | None = None           # BT-97 / BT-104 / BT-139 / BT-144
    reason_code: str | None = None      # BT-98 / BT-105 / BT-140 / BT-145


@dataclass
class Totals:                           # BG-22
    line_net_total: Decimal | None = None       # BT-106
    allowance_total: Decimal | None = None      # BT-107
    charge_total: Decimal | None = None         # BT-108
    tax_exclusive: Decimal | None = None        # BT-109
    vat_total: Decimal | None = None            # BT-110
    vat_total_accounting: Decimal | None = None  # BT-111
    tax_inclusive: Decimal | None = None        # BT-112
    prepaid: Decimal | None = None              # BT-113
    rounding: Decimal | None = None             # BT-114
    payable: Decimal | None = None              # BT-115


@dataclass
class VatBreakdown:                     # BG-23
    taxable_amount: Decimal | None = None   # BT-116
    tax_amount: Decimal | None = None       # BT-117
    category: str | None = None             # BT-118
    rate: Decimal | None = None             # BT-119
    exemption_reason: str | None = None     # BT-120
    exemption_reason_code: str | None = None  # BT-121


@dataclass
class Attachment:                       # BG-24
    id: str | None = None               # BT-122
    description: str | None = None      # BT-123
    uri: str | None = None              # BT-124 external location
    mime_code: str | None = None        # BT-125 @mimeCode
    filename: str | None = None         # BT-125 @filename
    content: bytes | None = None        # BT-125 decoded (None if absent, invalid or too large)
    size: int | None = None             # decoded size (also when too large)
    error: str | None = None            # why the content was not decoded


@dataclass
class PrecedingInvoice:                 # BG-3
    number: str | None = None           # BT-25
    issue_date: date | None = None      # BT-26


@dataclass
class Note:                             # BG-1
    text: str                           # BT-22
    subject_code: str | None = None     # BT-21


@dataclass
class ItemAttribute:                    # BG-32
    name: str | None = None             # BT-160
    value: str | None = None            # BT-161


@dataclass
class Price:                            # BG-29
    net: Decimal | None = None          # BT-146
    discount: Decimal | None = None     # BT-147
    gross: Decimal | None = None        # BT-148
    base_quantity: Decimal | None = None  # BT-149
    base_unit: str | None = None        # BT-150


@dataclass
class Item:                             # BG-31
    name: str | None = None             # BT-153
    description: str | None = None      # BT-154
    seller_id: str | None = None        # BT-155
    buyer_id: str | None = None         # BT-156
    standard_id: Identifier | None = None  # BT-157
    classifications: list[Identifier] = field(default_factory=list)  # BT-158
    origin_country: str | None = None   # BT-159
    attributes: list[ItemAttribute] = field(default_factory=list)    # BG-32


@dataclass
class Line:                             # BG-25
    id: str | None = None               # BT-126
    note: str | None = None             # BT-127
    object_id: Identifier | None = None  # BT-128
    quantity: Decimal | None = None     # BT-129
    unit: str | None = None             # BT-130
    net_amount: Decimal | None = None   # BT-131
    order_line_ref: str | None = None   # BT-132
    accounting_ref: str | None = None   # BT-133
    period: Period | None = None        # BG-26
    allowances: list[AllowanceCharge] = field(default_factory=list)  # BG-27
    charges: list[AllowanceCharge] = field(default_factory=list)     # BG-28
    price: Price = field(default_factory=Price)                      # BG-29
    vat_category: str | None = None     # BT-151
    vat_rate: Decimal | None = None     # BT-152
    item: Item = field(default_factory=Item)                         # BG-31


@dataclass
class Invoice:
    syntax: str                         # "ubl" | "cii"
    document_type: str                  # "Invoice" | "CreditNote" | "CrossIndustryInvoice"
    number: str | None = None           # BT-1
    issue_date: date | None = None      # BT-2
    type_code: str | None = None        # BT-3
    currency: str | None = None         # BT-5
    vat_currency: str | None = None     # BT-6
    tax_point_date: date | None = None  # BT-7
    due_date: date | None = None        # BT-9
    buyer_reference: str | None = None  # BT-10 (Leitweg-ID)
    project_reference: str | None = None   # BT-11
    contract_reference: str | None = None  # BT-12
    purchase_order_reference: str | None = None  # BT-13
    sales_order_reference: str | None = None     # BT-14
    receiving_advice_reference: str | None = None  # BT-15
    despatch_advice_reference: str | None = None   # BT-16
    tender_reference: str | None = None    # BT-17
    invoiced_object: Identifier | None = None  # BT-18
    buyer_accounting_reference: str | None = None  # BT-19
    payment_terms: str | None = None    # BT-20
    notes: list[Note] = field(default_factory=list)                 # BG-1
    process_id: str | None = None       # BT-23
    specification_id: str | None = None  # BT-24
    preceding_invoices: list[PrecedingInvoice] = field(default_factory=list)  # BG-3
    seller: Party = field(default_factory=Party)                    # BG-4
    buyer: Party = field(default_factory=Party)                     # BG-7
    payee: Party | None = None                                      # BG-10
    tax_representative: Party | None = None                         # BG-11
    delivery: Delivery | None = None                                # BG-13
    invoicing_period: Period | None = None                          # BG-14
    payment: PaymentInstructions | None = None                      # BG-16
    allowances: list[AllowanceCharge] = field(default_factory=list)  # BG-20
    charges: list[AllowanceCharge] = field(default_factory=list)     # BG-21
    totals: Totals = field(default_factory=Totals)                  # BG-22
    vat_breakdown: list[VatBreakdown] = field(default_factory=list)  # BG-23
    attachments: list[Attachment] = field(default_factory=list)     # BG-24
    lines: list[Line] = field(default_factory=list)                 # BG-25

    @property
    def leitweg_id(self) -> str | None:
        return self.buyer_reference

    @property
    def leitweg_id_valid(self) -> bool:
        """BT-10 is a Leitweg-ID with a correct check digit (ISO 7064 MOD 97-10)."""
        return bool(self.buyer_reference) and is_valid_leitweg_id(self.buyer_reference.strip())

    @property
    def is_credit_note(self) -> bool:
        return self.document_type == "CreditNote" or self.type_code in ("381", "396", "532")

    def embedded_files(self) -> list[Attachment]:
        """Attachments with decoded content (for the E-Akte)."""
        return [a for a in self.attachments if a.content is not None]
