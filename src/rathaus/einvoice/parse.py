"""Parse UBL 2.1 (Invoice, CreditNote) and UN/CEFACT CII D16B into the neutral EN 16931 model.

    invoice = parse_invoice(xml_bytes_or_lxml_element, "ubl")   # or "cii"

Bytes are parsed with a hardened lxml parser (no entities, no network, no DTD, no huge trees; a
DOCTYPE is refused). The caller may also pass an element it has already parsed and checked.
Missing or malformed values become `None`; the parser never raises on content, only on XML that
is not an invoice of the given syntax.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lxml import etree

from .model import (
    Address,
    AllowanceCharge,
    Attachment,
    Contact,
    CreditTransfer,
    Delivery,
    DirectDebit,
    Identifier,
    Invoice,
    Item,
    ItemAttribute,
    Line,
    Note,
    Party,
    PaymentCard,
    PaymentInstructions,
    Period,
    PrecedingInvoice,
    Price,
    Totals,
    VatBreakdown,
)
from .rules_de import (
    NS_CII,
    NS_UBL,
    _string,  # XPath string() with the leaf fast path
)

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_XML_BYTES = 50 * 1024 * 1024


class InvoiceParseError(ValueError):
    pass


def hardened_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=False)


def parse_xml(data: bytes):
    if len(data) > MAX_XML_BYTES:
        raise InvoiceParseError("Die XML-Datei ist zu groß.")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise InvoiceParseError(f"Die Datei ist kein wohlgeformtes XML: {exc}") from exc
    if root.getroottree().docinfo.doctype:
        raise InvoiceParseError("Eine DOCTYPE-Deklaration ist nicht erlaubt.")
    return root


def detect_syntax(root) -> str | None:
    ns = etree.QName(root).namespace or ""
    if ns == NS_CII["rsm"]:
        return "cii"
    if ns in (NS_UBL["ubl"], NS_UBL["cn"]):
        return "ubl"
    return None


def parse_invoice(doc, syntax: str | None = None, *, max_attachment_bytes: int = MAX_ATTACHMENT_BYTES) -> Invoice:
    root = parse_xml(doc) if isinstance(doc, bytes | bytearray) else doc
    if isinstance(root, etree._ElementTree):
        root = root.getroot()
    found = detect_syntax(root)
    syntax = (syntax or found or "").lower()
    if found is None or syntax != found:
        raise InvoiceParseError(f"Das Dokument ist keine Rechnung in der Syntax {syntax or '?'} "
                                f"(Wurzelelement {etree.QName(root).localname}).")
    if syntax == "ubl":
        return _Ubl(root, max_attachment_bytes).invoice()
    return _Cii(root, max_attachment_bytes).invoice()


# ---------------------------------------------------------------- helpers

_WS = re.compile(r"\s+")


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _to_decimal(value: str | None) -> Decimal | None:
    value = _clean(value)
    if value is None:
        return None
    try:
        result = Decimal(value)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _to_date(value: str | None, fmt: str | None = None) -> date | None:
    value = _clean(value)
    if not value:
        return None
    try:
        if fmt == "102" or re.fullmatch(r"\d{8}", value):
            return date(int(value[0:4]), int(value[4:6]), int(value[6:8]))
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# compiled XPath per (syntax, expression), built on first use; lxml serialises calls into one evaluator
_XPATHS: dict[tuple[str, str], etree.XPath] = {}
def _compiled(key: str, ns: dict, path: str) -> etree.XPath:
    xp = _XPATHS.get((key, path))
    if xp is None:
        xp = _XPATHS[(key, path)] = etree.XPath(path, namespaces=ns)
    return xp


class _Base:
    NS: dict[str, str] = {}
    KEY = ""

    def __init__(self, root, max_attachment_bytes: int):
        self.root = root
        self.max_attachment_bytes = max_attachment_bytes

    def all(self, el, path: str) -> list:
        if el is None:
            return []
        xp = _XPATHS.get((self.KEY, path)) or _compiled(self.KEY, self.NS, path)
        return xp(el)

    def first(self, el, path: str):
        nodes = self.all(el, path)
        return nodes[0] if nodes else None

    def text(self, el, path: str) -> str | None:
        node = self.first(el, path)
        if node is None:
            return None
        if isinstance(node, etree._Element):
            return _clean(_string(node))
        return _clean(str(node))

    def texts(self, el, path: str) -> list[str]:
        out = []
        for node in self.all(el, path):
            value = _clean(_string(node) if isinstance(node, etree._Element) else str(node))
            if value:
                out.append(value)
        return out

    def dec(self, el, path: str) -> Decimal | None:
        return _to_decimal(self.text(el, path))

    def ident(self, el, path: str, scheme_attr: str = "schemeID") -> Identifier | None:
        node = self.first(el, path)
        value = _clean(_string(node)) if node is not None else None
        if not value:
            return None
        return Identifier(value, _clean(node.get(scheme_attr)))

    def idents(self, el, path: str, scheme_attr: str = "schemeID") -> list[Identifier]:
        out = []
        for node in self.all(el, path):
            value = _clean(_string(node))
            if value:
                out.append(Identifier(value, _clean(node.get(scheme_attr))))
        return out

    def binary(self, node) -> Attachment:
        att = Attachment(mime_code=_clean(node.get("mimeCode")), filename=_clean(node.get("filename")))
        raw = _WS.sub("", node.text or "")
        if not raw:
            return att
        size = len(raw) * 3 // 4 - raw[-2:].count("=")
        att.size = size
        if size > self.max_attachment_bytes:
            att.error = "zu groß"
            return att
        try:
            att.content = base64.b64decode(raw, validate=True)
            att.size = len(att.content)
        except (binascii.Error, ValueError):
            att.error = "kein gültiges Base64"
        return att


# ---------------------------------------------------------------- UBL

class _Ubl(_Base):
    NS = NS_UBL
    KEY = "ubl"

    def invoice(self) -> Invoice:
        r = self.root
        doc_type = etree.QName(r).localname
        inv = Invoice(syntax="ubl", document_type=doc_type)
        inv.number = self.text(r, "cbc:ID")
        inv.issue_date = _to_date(self.text(r, "cbc:IssueDate"))
        inv.type_code = self.text(r, "cbc:InvoiceTypeCode | cbc:CreditNoteTypeCode")
        inv.currency = self.text(r, "cbc:DocumentCurrencyCode")
        inv.vat_currency = self.text(r, "cbc:TaxCurrencyCode")
        inv.tax_point_date = _to_date(self.text(r, "cbc:TaxPointDate"))
        inv.due_date = _to_date(self.text(r, "cbc:DueDate") or self.text(r, "cac:PaymentMeans/cbc:PaymentDueDate"))
        inv.buyer_reference = self.text(r, "cbc:BuyerReference")
        inv.project_reference = (self.text(r, "cac:ProjectReference/cbc:ID")
                                 or self.text(r, "cac:AdditionalDocumentReference[cbc:DocumentTypeCode='50']/cbc:ID"))
        inv.contract_reference = self.text(r, "cac:ContractDocumentReference/cbc:ID")
        inv.purchase_order_reference = self.text(r, "cac:OrderReference/cbc:ID")
        inv.sales_order_reference = self.text(r, "cac:OrderReference/cbc:SalesOrderID")
        inv.receiving_advice_reference = self.text(r, "cac:ReceiptDocumentReference/cbc:ID")
        inv.despatch_advice_reference = self.text(r, "cac:DespatchDocumentReference/cbc:ID")
        inv.tender_reference = self.text(r, "cac:OriginatorDocumentReference/cbc:ID")
        inv.invoiced_object = self.ident(r, "cac:AdditionalDocumentReference[cbc:DocumentTypeCode='130']/cbc:ID")
        inv.buyer_accounting_reference = self.text(r, "cbc:AccountingCost")
        inv.payment_terms = self.text(r, "cac:PaymentTerms/cbc:Note")
        for note in self.texts(r, "cbc:Note"):
            m = re.match(r"^#([A-Z]{3})#(.*)$", note, re.S)
            inv.notes.append(Note(m.group(2).strip(), m.group(1)) if m else Note(note))
        inv.process_id = self.text(r, "cbc:ProfileID")
        inv.specification_id = self.text(r, "cbc:CustomizationID")
        for ref in self.all(r, "cac:BillingReference/cac:InvoiceDocumentReference"):
            inv.preceding_invoices.append(PrecedingInvoice(self.text(ref, "cbc:ID"), _to_date(self.text(ref, "cbc:IssueDate"))))
        inv.seller = self.party(self.first(r, "cac:AccountingSupplierParty/cac:Party"))
        inv.buyer = self.party(self.first(r, "cac:AccountingCustomerParty/cac:Party"))
        payee = self.first(r, "cac:PayeeParty")
        if payee is not None:
            inv.payee = self.party(payee)
        rep = self.first(r, "cac:TaxRepresentativeParty")
        if rep is not None:
            inv.tax_representative = self.party(rep)
        inv.delivery = self.delivery(self.first(r, "cac:Delivery"))
        inv.invoicing_period = self.period(self.first(r, "cac:InvoicePeriod"))
        inv.payment = self.payment(r)
        for ac in self.all(r, "cac:AllowanceCharge"):
            item = self.allowance_charge(ac)
            (inv.charges if item.charge else inv.allowances).append(item)
        inv.totals = self.totals(r, inv.currency, inv.vat_currency)
        for sub in self.all(r, "cac:TaxTotal/cac:TaxSubtotal"):
            inv.vat_breakdown.append(VatBreakdown(
                taxable_amount=self.dec(sub, "cbc:TaxableAmount"), tax_amount=self.dec(sub, "cbc:TaxAmount"),
                category=self.text(sub, "cac:TaxCategory/cbc:ID"), rate=self.dec(sub, "cac:TaxCategory/cbc:Percent"),
                exemption_reason=self.text(sub, "cac:TaxCategory/cbc:TaxExemptionReason"),
                exemption_reason_code=self.text(sub, "cac:TaxCategory/cbc:TaxExemptionReasonCode")))
        for ref in self.all(r, "cac:AdditionalDocumentReference[not(cbc:DocumentTypeCode='50' or cbc:DocumentTypeCode='130')]"):
            obj = self.first(ref, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject")
            att = self.binary(obj) if obj is not None else Attachment()
            att.id = self.text(ref, "cbc:ID")
            att.description = self.text(ref, "cbc:DocumentDescription")
            att.uri = self.text(ref, "cac:Attachment/cac:ExternalReference/cbc:URI")
            inv.attachments.append(att)
        for line in self.all(r, "cac:InvoiceLine | cac:CreditNoteLine"):
            inv.lines.append(self.line(line))
        return inv

    def address(self, el) -> Address | None:
        if el is None:
            return None
        return Address(line1=self.text(el, "cbc:StreetName"), line2=self.text(el, "cbc:AdditionalStreetName"),
                       line3=self.text(el, "cac:AddressLine/cbc:Line"), city=self.text(el, "cbc:CityName"),
                       postcode=self.text(el, "cbc:PostalZone"), subdivision=self.text(el, "cbc:CountrySubentity"),
                       country=self.text(el, "cac:Country/cbc:IdentificationCode"))

    def party(self, p) -> Party:
        if p is None:
            return Party()
        contact = self.first(p, "cac:Contact")
        return Party(
            name=self.text(p, "cac:PartyLegalEntity/cbc:RegistrationName") or self.text(p, "cac:PartyName/cbc:Name"),
            trading_name=self.text(p, "cac:PartyName/cbc:Name"),
            identifiers=[i for i in self.idents(p, "cac:PartyIdentification/cbc:ID") if i.scheme != "SEPA"],
            legal_registration_id=self.ident(p, "cac:PartyLegalEntity/cbc:CompanyID"),
            legal_info=self.text(p, "cac:PartyLegalEntity/cbc:CompanyLegalForm"),
            vat_id=self.text(p, "cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"),
            tax_registration_id=self.text(p, "cac:PartyTaxScheme[not(cac:TaxScheme/cbc:ID='VAT')]/cbc:CompanyID"),
            electronic_address=self.ident(p, "cbc:EndpointID"),
            address=self.address(self.first(p, "cac:PostalAddress")),
            contact=Contact(self.text(contact, "cbc:Name"), self.text(contact, "cbc:Telephone"),
                            self.text(contact, "cbc:ElectronicMail")) if contact is not None else None,
        )

    def period(self, el) -> Period | None:
        if el is None:
            return None
        return Period(_to_date(self.text(el, "cbc:StartDate")), _to_date(self.text(el, "cbc:EndDate")))

    def delivery(self, el) -> Delivery | None:
        if el is None:
            return None
        return Delivery(name=self.text(el, "cac:DeliveryParty/cac:PartyName/cbc:Name"),
                        location_id=self.ident(el, "cac:DeliveryLocation/cbc:ID"),
                        date=_to_date(self.text(el, "cbc:ActualDeliveryDate")),
                        address=self.address(self.first(el, "cac:DeliveryLocation/cac:Address")))

    def payment(self, r) -> PaymentInstructions | None:
        means = self.all(r, "cac:PaymentMeans")
        if not means:
            return None
        first = means[0]
        pi = PaymentInstructions(means_code=self.text(first, "cbc:PaymentMeansCode"),
                                 means_text=_clean(self.first(first, "cbc:PaymentMeansCode").get("name"))
                                 if self.first(first, "cbc:PaymentMeansCode") is not None else None,
                                 remittance_information=self.text(first, "cbc:PaymentID"))
        for pm in means:
            for acc in self.all(pm, "cac:PayeeFinancialAccount"):
                pi.credit_transfers.append(CreditTransfer(self.text(acc, "cbc:ID"), self.text(acc, "cbc:Name"),
                                                          self.text(acc, "cac:FinancialInstitutionBranch/cbc:ID")))
        card = self.first(r, "cac:PaymentMeans/cac:CardAccount")
        if card is not None:
            pi.card = PaymentCard(self.text(card, "cbc:PrimaryAccountNumberID"), self.text(card, "cbc:HolderName"))
        mandate = self.first(r, "cac:PaymentMeans/cac:PaymentMandate")
        creditor = self.text(r, "cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID[@schemeID='SEPA'] | "
                                "cac:PayeeParty/cac:PartyIdentification/cbc:ID[@schemeID='SEPA']")
        if mandate is not None or creditor:
            pi.direct_debit = DirectDebit(self.text(mandate, "cbc:ID"), creditor,
                                          self.text(mandate, "cac:PayerFinancialAccount/cbc:ID"))
        return pi

    def allowance_charge(self, ac) -> AllowanceCharge:
        return AllowanceCharge(
            charge=(self.text(ac, "cbc:ChargeIndicator") or "").lower() == "true",
            amount=self.dec(ac, "cbc:Amount"), base_amount=self.dec(ac, "cbc:BaseAmount"),
            percentage=self.dec(ac, "cbc:MultiplierFactorNumeric"),
            vat_category=self.text(ac, "cac:TaxCategory/cbc:ID"), vat_rate=self.dec(ac, "cac:TaxCategory/cbc:Percent"),
            reason=self.text(ac, "cbc:AllowanceChargeReason"), reason_code=self.text(ac, "cbc:AllowanceChargeReasonCode"))

    def totals(self, r, currency, vat_currency) -> Totals:
        t = self.first(r, "cac:LegalMonetaryTotal")
        vat_total = vat_acc = None
        for amount in self.all(r, "cac:TaxTotal/cbc:TaxAmount"):
            cur = amount.get("currencyID")
            if vat_currency and cur == vat_currency and vat_currency != currency:
                vat_acc = _to_decimal(amount.text)
            elif vat_total is None:
                vat_total = _to_decimal(amount.text)
        return Totals(
            line_net_total=self.dec(t, "cbc:LineExtensionAmount"), allowance_total=self.dec(t, "cbc:AllowanceTotalAmount"),
            charge_total=self.dec(t, "cbc:ChargeTotalAmount"), tax_exclusive=self.dec(t, "cbc:TaxExclusiveAmount"),
            vat_total=vat_total, vat_total_accounting=vat_acc, tax_inclusive=self.dec(t, "cbc:TaxInclusiveAmount"),
            prepaid=self.dec(t, "cbc:PrepaidAmount"), rounding=self.dec(t, "cbc:PayableRoundingAmount"),
            payable=self.dec(t, "cbc:PayableAmount"))

    def line(self, el) -> Line:
        qty = self.first(el, "cbc:InvoicedQuantity | cbc:CreditedQuantity")
        line = Line(
            id=self.text(el, "cbc:ID"), note=self.text(el, "cbc:Note"),
            object_id=self.ident(el, "cac:DocumentReference[cbc:DocumentTypeCode='130']/cbc:ID"),
            quantity=_to_decimal(qty.text) if qty is not None else None,
            unit=_clean(qty.get("unitCode")) if qty is not None else None,
            net_amount=self.dec(el, "cbc:LineExtensionAmount"),
            order_line_ref=self.text(el, "cac:OrderLineReference/cbc:LineID"),
            accounting_ref=self.text(el, "cbc:AccountingCost"),
            period=self.period(self.first(el, "cac:InvoicePeriod")),
        )
        for ac in self.all(el, "cac:AllowanceCharge"):
            item = self.allowance_charge(ac)
            (line.charges if item.charge else line.allowances).append(item)
        base_qty = self.first(el, "cac:Price/cbc:BaseQuantity")
        line.price = Price(
            net=self.dec(el, "cac:Price/cbc:PriceAmount"),
            discount=self.dec(el, "cac:Price/cac:AllowanceCharge[cbc:ChargeIndicator='false']/cbc:Amount"),
            gross=self.dec(el, "cac:Price/cac:AllowanceCharge[cbc:ChargeIndicator='false']/cbc:BaseAmount"),
            base_quantity=_to_decimal(base_qty.text) if base_qty is not None else None,
            base_unit=_clean(base_qty.get("unitCode")) if base_qty is not None else None)
        item = self.first(el, "cac:Item")
        line.vat_category = self.text(item, "cac:ClassifiedTaxCategory/cbc:ID")
        line.vat_rate = self.dec(item, "cac:ClassifiedTaxCategory/cbc:Percent")
        line.item = Item(
            name=self.text(item, "cbc:Name"), description=self.text(item, "cbc:Description"),
            seller_id=self.text(item, "cac:SellersItemIdentification/cbc:ID"),
            buyer_id=self.text(item, "cac:BuyersItemIdentification/cbc:ID"),
            standard_id=self.ident(item, "cac:StandardItemIdentification/cbc:ID"),
            classifications=self.idents(item, "cac:CommodityClassification/cbc:ItemClassificationCode", "listID"),
            origin_country=self.text(item, "cac:OriginCountry/cbc:IdentificationCode"),
            attributes=[ItemAttribute(self.text(p, "cbc:Name"), self.text(p, "cbc:Value"))
                        for p in self.all(item, "cac:AdditionalItemProperty")])
        return line


# ---------------------------------------------------------------- CII

class _Cii(_Base):
    NS = NS_CII
    KEY = "cii"

    def dt(self, el, path: str) -> date | None:
        node = self.first(el, path)
        if node is None:
            return None
        return _to_date(_string(node), node.get("format"))

    def invoice(self) -> Invoice:
        r = self.root
        inv = Invoice(syntax="cii", document_type="CrossIndustryInvoice")
        ctx = self.first(r, "rsm:ExchangedDocumentContext")
        doc = self.first(r, "rsm:ExchangedDocument")
        tx = self.first(r, "rsm:SupplyChainTradeTransaction")
        ag = self.first(tx, "ram:ApplicableHeaderTradeAgreement")
        de = self.first(tx, "ram:ApplicableHeaderTradeDelivery")
        st = self.first(tx, "ram:ApplicableHeaderTradeSettlement")
        inv.process_id = self.text(ctx, "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID")
        inv.specification_id = self.text(ctx, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
        inv.number = self.text(doc, "ram:ID")
        inv.type_code = self.text(doc, "ram:TypeCode")
        inv.issue_date = self.dt(doc, "ram:IssueDateTime/udt:DateTimeString")
        for note in self.all(doc, "ram:IncludedNote"):
            text = self.text(note, "ram:Content")
            if text:
                inv.notes.append(Note(text, self.text(note, "ram:SubjectCode")))
        inv.buyer_reference = self.text(ag, "ram:BuyerReference")
        inv.project_reference = self.text(ag, "ram:SpecifiedProcuringProject/ram:ID")
        inv.contract_reference = self.text(ag, "ram:ContractReferencedDocument/ram:IssuerAssignedID")
        inv.purchase_order_reference = self.text(ag, "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID")
        inv.sales_order_reference = self.text(ag, "ram:SellerOrderReferencedDocument/ram:IssuerAssignedID")
        inv.tender_reference = self.text(ag, "ram:AdditionalReferencedDocument[ram:TypeCode='50']/ram:IssuerAssignedID")
        inv.invoiced_object = self.ident(ag, "ram:AdditionalReferencedDocument[ram:TypeCode='130']/ram:IssuerAssignedID",
                                         "schemeID")
        obj = self.first(ag, "ram:AdditionalReferencedDocument[ram:TypeCode='130']")
        if inv.invoiced_object and obj is not None:
            inv.invoiced_object.scheme = self.text(obj, "ram:ReferenceTypeCode")
        inv.seller = self.party(self.first(ag, "ram:SellerTradeParty"))
        inv.buyer = self.party(self.first(ag, "ram:BuyerTradeParty"))
        rep = self.first(ag, "ram:SellerTaxRepresentativeTradeParty")
        if rep is not None:
            inv.tax_representative = self.party(rep)
        inv.receiving_advice_reference = self.text(de, "ram:ReceivingAdviceReferencedDocument/ram:IssuerAssignedID")
        inv.despatch_advice_reference = self.text(de, "ram:DespatchAdviceReferencedDocument/ram:IssuerAssignedID")
        ship = self.first(de, "ram:ShipToTradeParty")
        delivery_date = self.dt(de, "ram:ActualDeliverySupplyChainEvent/ram:OccurrenceDateTime/udt:DateTimeString")
        if ship is not None or delivery_date:
            inv.delivery = Delivery(
                name=self.text(ship, "ram:Name"), location_id=self.ident(ship, "ram:ID | ram:GlobalID"),
                date=delivery_date, address=self.address(self.first(ship, "ram:PostalTradeAddress")))
        inv.currency = self.text(st, "ram:InvoiceCurrencyCode")
        inv.vat_currency = self.text(st, "ram:TaxCurrencyCode")
        inv.tax_point_date = self.dt(st, "ram:ApplicableTradeTax/ram:TaxPointDate/udt:DateString")
        inv.due_date = self.dt(st, "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString")
        inv.buyer_accounting_reference = self.text(st, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID")
        inv.payment_terms = self.text(st, "ram:SpecifiedTradePaymentTerms/ram:Description")
        for ref in self.all(st, "ram:InvoiceReferencedDocument"):
            inv.preceding_invoices.append(PrecedingInvoice(
                self.text(ref, "ram:IssuerAssignedID"), self.dt(ref, "ram:FormattedIssueDateTime/qdt:DateTimeString")))
        payee = self.first(st, "ram:PayeeTradeParty")
        if payee is not None:
            inv.payee = self.party(payee)
        period = self.first(st, "ram:BillingSpecifiedPeriod")
        if period is not None:
            inv.invoicing_period = self.period(period)
        inv.payment = self.payment(st)
        for ac in self.all(st, "ram:SpecifiedTradeAllowanceCharge"):
            item = self.allowance_charge(ac)
            (inv.charges if item.charge else inv.allowances).append(item)
        inv.totals = self.totals(st, inv.currency, inv.vat_currency)
        for tax in self.all(st, "ram:ApplicableTradeTax"):
            inv.vat_breakdown.append(VatBreakdown(
                taxable_amount=self.dec(tax, "ram:BasisAmount"), tax_amount=self.dec(tax, "ram:CalculatedAmount"),
                category=self.text(tax, "ram:CategoryCode"), rate=self.dec(tax, "ram:RateApplicablePercent"),
                exemption_reason=self.text(tax, "ram:ExemptionReason"),
                exemption_reason_code=self.text(tax, "ram:ExemptionReasonCode")))
        for ref in self.all(ag, "ram:AdditionalReferencedDocument[ram:TypeCode='916']"):
            obj = self.first(ref, "ram:AttachmentBinaryObject")
            att = self.binary(obj) if obj is not None else Attachment()
            att.id = self.text(ref, "ram:IssuerAssignedID")
            att.description = self.text(ref, "ram:Name")
            att.uri = self.text(ref, "ram:URIID")
            inv.attachments.append(att)
        for line in self.all(tx, "ram:IncludedSupplyChainTradeLineItem"):
            inv.lines.append(self.line(line))
        return inv

    def address(self, el) -> Address | None:
        if el is None:
            return None
        return Address(line1=self.text(el, "ram:LineOne"), line2=self.text(el, "ram:LineTwo"),
                       line3=self.text(el, "ram:LineThree"), city=self.text(el, "ram:CityName"),
                       postcode=self.text(el, "ram:PostcodeCode"), subdivision=self.text(el, "ram:CountrySubDivisionName"),
                       country=self.text(el, "ram:CountryID"))

    def party(self, p) -> Party:
        if p is None:
            return Party()
        contact = self.first(p, "ram:DefinedTradeContact")
        return Party(
            name=self.text(p, "ram:Name"),
            trading_name=self.text(p, "ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
            identifiers=self.idents(p, "ram:ID | ram:GlobalID"),
            legal_registration_id=self.ident(p, "ram:SpecifiedLegalOrganization/ram:ID"),
            legal_info=self.text(p, "ram:Description"),
            vat_id=self.text(p, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='VA']"),
            tax_registration_id=self.text(p, "ram:SpecifiedTaxRegistration/ram:ID[@schemeID='FC']"),
            electronic_address=self.ident(p, "ram:URIUniversalCommunication/ram:URIID"),
            address=self.address(self.first(p, "ram:PostalTradeAddress")),
            contact=Contact(self.text(contact, "ram:PersonName") or self.text(contact, "ram:DepartmentName"),
                            self.text(contact, "ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
                            self.text(contact, "ram:EmailURIUniversalCommunication/ram:URIID"))
            if contact is not None else None,
        )

    def period(self, el) -> Period | None:
        if el is None:
            return None
        return Period(self.dt(el, "ram:StartDateTime/udt:DateTimeString"), self.dt(el, "ram:EndDateTime/udt:DateTimeString"))

    def payment(self, st) -> PaymentInstructions | None:
        means = self.all(st, "ram:SpecifiedTradeSettlementPaymentMeans")
        mandate = self.text(st, "ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID")
        creditor = self.text(st, "ram:CreditorReferenceID")
        if not means and not mandate:
            return None
        first = means[0] if means else None
        pi = PaymentInstructions(means_code=self.text(first, "ram:TypeCode"),
                                 means_text=self.text(first, "ram:Information"),
                                 remittance_information=self.text(st, "ram:PaymentReference"))
        for pm in means:
            for acc in self.all(pm, "ram:PayeePartyCreditorFinancialAccount"):
                pi.credit_transfers.append(CreditTransfer(
                    self.text(acc, "ram:IBANID") or self.text(acc, "ram:ProprietaryID"), self.text(acc, "ram:AccountName"),
                    self.text(pm, "ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID")))
        card = self.first(st, "ram:SpecifiedTradeSettlementPaymentMeans/ram:ApplicableTradeSettlementFinancialCard")
        if card is not None:
            pi.card = PaymentCard(self.text(card, "ram:ID"), self.text(card, "ram:CardholderName"))
        debited = self.text(st, "ram:SpecifiedTradeSettlementPaymentMeans/ram:PayerPartyDebtorFinancialAccount/ram:IBANID")
        if mandate or creditor or debited:
            pi.direct_debit = DirectDebit(mandate, creditor, debited)
        return pi

    def allowance_charge(self, ac) -> AllowanceCharge:
        return AllowanceCharge(
            charge=(self.text(ac, "ram:ChargeIndicator/udt:Indicator") or "").lower() == "true",
            amount=self.dec(ac, "ram:ActualAmount"), base_amount=self.dec(ac, "ram:BasisAmount"),
            percentage=self.dec(ac, "ram:CalculationPercent"),
            vat_category=self.text(ac, "ram:CategoryTradeTax/ram:CategoryCode"),
            vat_rate=self.dec(ac, "ram:CategoryTradeTax/ram:RateApplicablePercent"),
            reason=self.text(ac, "ram:Reason"), reason_code=self.text(ac, "ram:ReasonCode"))

    def totals(self, st, currency, vat_currency) -> Totals:
        s = self.first(st, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
        vat_total = vat_acc = None
        for amount in self.all(s, "ram:TaxTotalAmount"):
            cur = amount.get("currencyID")
            if vat_currency and cur == vat_currency and vat_currency != currency:
                vat_acc = _to_decimal(amount.text)
            elif vat_total is None:
                vat_total = _to_decimal(amount.text)
        return Totals(
            line_net_total=self.dec(s, "ram:LineTotalAmount"), allowance_total=self.dec(s, "ram:AllowanceTotalAmount"),
            charge_total=self.dec(s, "ram:ChargeTotalAmount"), tax_exclusive=self.dec(s, "ram:TaxBasisTotalAmount"),
            vat_total=vat_total, vat_total_accounting=vat_acc, tax_inclusive=self.dec(s, "ram:GrandTotalAmount"),
            prepaid=self.dec(s, "ram:TotalPrepaidAmount"), rounding=self.dec(s, "ram:RoundingAmount"),
            payable=self.dec(s, "ram:DuePayableAmount"))

    def line(self, el) -> Line:
        doc = self.first(el, "ram:AssociatedDocumentLineDocument")
        agr = self.first(el, "ram:SpecifiedLineTradeAgreement")
        sett = self.first(el, "ram:SpecifiedLineTradeSettlement")
        qty = self.first(el, "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity")
        obj = self.first(sett, "ram:AdditionalReferencedDocument[ram:TypeCode='130']")
        line = Line(
            id=self.text(doc, "ram:LineID"), note=self.text(doc, "ram:IncludedNote/ram:Content"),
            object_id=Identifier(self.text(obj, "ram:IssuerAssignedID"), self.text(obj, "ram:ReferenceTypeCode"))
            if obj is not None and self.text(obj, "ram:IssuerAssignedID") else None,
            quantity=_to_decimal(qty.text) if qty is not None else None,
            unit=_clean(qty.get("unitCode")) if qty is not None else None,
            net_amount=self.dec(sett, "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"),
            order_line_ref=self.text(agr, "ram:BuyerOrderReferencedDocument/ram:LineID"),
            accounting_ref=self.text(sett, "ram:ReceivableSpecifiedTradeAccountingAccount/ram:ID"),
            period=self.period(self.first(sett, "ram:BillingSpecifiedPeriod")),
            vat_category=self.text(sett, "ram:ApplicableTradeTax/ram:CategoryCode"),
            vat_rate=self.dec(sett, "ram:ApplicableTradeTax/ram:RateApplicablePercent"),
        )
        for ac in self.all(sett, "ram:SpecifiedTradeAllowanceCharge"):
            item = self.allowance_charge(ac)
            (line.charges if item.charge else line.allowances).append(item)
        base_qty = self.first(agr, "ram:NetPriceProductTradePrice/ram:BasisQuantity")
        line.price = Price(
            net=self.dec(agr, "ram:NetPriceProductTradePrice/ram:ChargeAmount"),
            discount=self.dec(agr, "ram:GrossPriceProductTradePrice/ram:AppliedTradeAllowanceCharge/ram:ActualAmount"),
            gross=self.dec(agr, "ram:GrossPriceProductTradePrice/ram:ChargeAmount"),
            base_quantity=_to_decimal(base_qty.text) if base_qty is not None else None,
            base_unit=_clean(base_qty.get("unitCode")) if base_qty is not None else None)
        prod = self.first(el, "ram:SpecifiedTradeProduct")
        line.item = Item(
            name=self.text(prod, "ram:Name"), description=self.text(prod, "ram:Description"),
            seller_id=self.text(prod, "ram:SellerAssignedID"), buyer_id=self.text(prod, "ram:BuyerAssignedID"),
            standard_id=self.ident(prod, "ram:GlobalID"),
            classifications=self.idents(prod, "ram:DesignatedProductClassification/ram:ClassCode", "listID"),
            origin_country=self.text(prod, "ram:OriginTradeCountry/ram:ID"),
            attributes=[ItemAttribute(self.text(c, "ram:Description"), self.text(c, "ram:Value"))
                        for c in self.all(prod, "ram:ApplicableProductCharacteristic")])
        return line
