"""Demo e-invoices: XRechnung 3.0 (UBL 2.1) documents built from a few parameters, for the demo
municipality and for tests that need an invoice to a given Leitweg-ID (the official test corpora
are not part of an installation)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from django.contrib.auth import get_user_model

from rathaus.cases.models import Task, TaskState
from rathaus.cases.services import complete_task
from rathaus.einvoice.models import EInvoice
from rathaus.einvoice.services import receive_invoice
from rathaus.tenants.models import Membership

CUSTOMIZATION = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CENT = Decimal("0.01")


@dataclass
class DemoLine:
    name: str
    quantity: Decimal
    unit_price: Decimal
    vat_percent: Decimal = Decimal("19")
    unit: str = "C62"  # piece
    vat_category: str = "S"  # S, Z, E, AE (reverse charge) or K (intra-community); all but S at 0 %


# exemption reasons (BT-120/121) the EN 16931 rules ask for (BR-E-10, BR-AE-10, BR-IC-10)
EXEMPTION = {"E": ("VATEX-EU-132", "Steuerfrei nach § 4 UStG"),
             "AE": ("VATEX-EU-AE", "Steuerschuldnerschaft des Leistungsempfängers (§ 13b UStG)"),
             "K": ("VATEX-EU-IC", "Steuerfreie innergemeinschaftliche Lieferung")}


def _vat_groups(lines: list[DemoLine]) -> tuple[list[tuple[str, Decimal, Decimal, Decimal]], Decimal, Decimal]:
    """The VAT breakdown of the lines: [(category, rate, taxable, tax)], net total, VAT total."""
    by_key: dict[tuple[str, Decimal], Decimal] = {}
    for ln in lines:
        key = (ln.vat_category, _rate(ln))
        by_key[key] = by_key.get(key, Decimal("0")) + _net(ln)
    groups = []
    for (category, rate), base in sorted(by_key.items(), key=lambda kv: (kv[0][0] != "S", kv[0][0], kv[0][1])):
        groups.append((category, rate, base, (base * rate / 100).quantize(CENT, ROUND_HALF_UP)))
    return groups, sum(by_key.values(), Decimal("0")), sum((g[3] for g in groups), Decimal("0"))


def _rate(ln: DemoLine) -> Decimal:
    return Decimal(ln.vat_percent) if ln.vat_category == "S" else Decimal("0")


def _net(ln: DemoLine) -> Decimal:
    return (Decimal(ln.quantity) * Decimal(ln.unit_price)).quantize(CENT, ROUND_HALF_UP)


@dataclass
class DemoSeller:
    name: str = "Bürobedarf Müller GmbH"
    street: str = "Industriestraße 12"
    postal_code: str = "80331"
    city: str = "München"
    vat_id: str = "DE123456789"
    contact: str = "Erika Müller"
    phone: str = "+49 89 1234567"
    email: str = "rechnung@buero-mueller.example"
    iban: str = "DE89370400440532013000"
    bic: str = "COBADEFFXXX"


def _m(x: Decimal) -> str:
    return str(Decimal(x).quantize(CENT, ROUND_HALF_UP))


def build_ubl(*, number: str, leitweg_id: str, buyer_name: str, buyer_street: str, buyer_postal_code: str,
              buyer_city: str, lines: list[DemoLine], seller: DemoSeller | None = None,
              issue_date: dt.date | None = None, due_date: dt.date | None = None,
              payment_terms: str = "Zahlbar innerhalb von 30 Tagen ohne Abzug.", order_reference: str = "",
              buyer_vat_id: str = "") -> bytes:
    """A valid XRechnung 3.0 UBL invoice (one VAT breakdown per category and rate). Lines in category AE
    or K need the buyer's VAT id (BR-AE-02, BR-IC-02)."""
    s = seller or DemoSeller()
    issue_date = issue_date or dt.date.today()
    due_date = due_date or issue_date + dt.timedelta(days=30)
    e = lambda v: escape(str(v))  # noqa: E731
    line_xml = []
    for i, ln in enumerate(lines, start=1):
        net = _net(ln)
        line_xml.append(f"""
  <cac:InvoiceLine>
    <cbc:ID>{i}</cbc:ID>
    <cbc:InvoicedQuantity unitCode="{e(ln.unit)}">{e(ln.quantity)}</cbc:InvoicedQuantity>
    <cbc:LineExtensionAmount currencyID="EUR">{_m(net)}</cbc:LineExtensionAmount>
    <cac:Item>
      <cbc:Name>{e(ln.name)}</cbc:Name>
      <cac:ClassifiedTaxCategory>
        <cbc:ID>{e(ln.vat_category)}</cbc:ID>
        <cbc:Percent>{e(ln.vat_percent if ln.vat_category == "S" else 0)}</cbc:Percent>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:ClassifiedTaxCategory>
    </cac:Item>
    <cac:Price><cbc:PriceAmount currencyID="EUR">{_m(ln.unit_price)}</cbc:PriceAmount></cac:Price>
  </cac:InvoiceLine>""")
    groups, total_net, total_tax = _vat_groups(lines)
    subtotals = []
    for category, rate, base, tax in groups:
        exemption = ""
        if category in EXEMPTION:
            code, reason = EXEMPTION[category]
            exemption = (f"\n        <cbc:TaxExemptionReasonCode>{code}</cbc:TaxExemptionReasonCode>"
                         f"\n        <cbc:TaxExemptionReason>{e(reason)}</cbc:TaxExemptionReason>")
        subtotals.append(f"""
    <cac:TaxSubtotal>
      <cbc:TaxableAmount currencyID="EUR">{_m(base)}</cbc:TaxableAmount>
      <cbc:TaxAmount currencyID="EUR">{_m(tax)}</cbc:TaxAmount>
      <cac:TaxCategory>
        <cbc:ID>{category}</cbc:ID>
        <cbc:Percent>{e(rate)}</cbc:Percent>{exemption}
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:TaxCategory>
    </cac:TaxSubtotal>""")
    gross = total_net + total_tax
    order = f"\n  <cac:OrderReference><cbc:ID>{e(order_reference)}</cbc:ID></cac:OrderReference>" if order_reference else ""
    buyer_tax = (f"""
      <cac:PartyTaxScheme>
        <cbc:CompanyID>{e(buyer_vat_id)}</cbc:CompanyID>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:PartyTaxScheme>""" if buyer_vat_id else "")
    delivery = (f"""
  <cac:Delivery>
    <cbc:ActualDeliveryDate>{issue_date.isoformat()}</cbc:ActualDeliveryDate>
    <cac:DeliveryLocation><cac:Address><cbc:CityName>{e(buyer_city)}</cbc:CityName><cbc:PostalZone>{e(buyer_postal_code)}</cbc:PostalZone><cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country></cac:Address></cac:DeliveryLocation>
  </cac:Delivery>""" if any(ln.vat_category == "K" for ln in lines) else "")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<ubl:Invoice xmlns:ubl="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
             xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
             xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>{CUSTOMIZATION}</cbc:CustomizationID>
  <cbc:ProfileID>{PROFILE}</cbc:ProfileID>
  <cbc:ID>{e(number)}</cbc:ID>
  <cbc:IssueDate>{issue_date.isoformat()}</cbc:IssueDate>
  <cbc:DueDate>{due_date.isoformat()}</cbc:DueDate>
  <cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>
  <cbc:DocumentCurrencyCode>EUR</cbc:DocumentCurrencyCode>
  <cbc:BuyerReference>{e(leitweg_id)}</cbc:BuyerReference>{order}
  <cac:AccountingSupplierParty>
    <cac:Party>
      <cbc:EndpointID schemeID="EM">{e(s.email)}</cbc:EndpointID>
      <cac:PartyName><cbc:Name>{e(s.name)}</cbc:Name></cac:PartyName>
      <cac:PostalAddress>
        <cbc:StreetName>{e(s.street)}</cbc:StreetName>
        <cbc:CityName>{e(s.city)}</cbc:CityName>
        <cbc:PostalZone>{e(s.postal_code)}</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>
      <cac:PartyTaxScheme>
        <cbc:CompanyID>{e(s.vat_id)}</cbc:CompanyID>
        <cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme>
      </cac:PartyTaxScheme>
      <cac:PartyLegalEntity><cbc:RegistrationName>{e(s.name)}</cbc:RegistrationName></cac:PartyLegalEntity>
      <cac:Contact>
        <cbc:Name>{e(s.contact)}</cbc:Name>
        <cbc:Telephone>{e(s.phone)}</cbc:Telephone>
        <cbc:ElectronicMail>{e(s.email)}</cbc:ElectronicMail>
      </cac:Contact>
    </cac:Party>
  </cac:AccountingSupplierParty>
  <cac:AccountingCustomerParty>
    <cac:Party>
      <cbc:EndpointID schemeID="0204">{e(leitweg_id)}</cbc:EndpointID>
      <cac:PostalAddress>
        <cbc:StreetName>{e(buyer_street)}</cbc:StreetName>
        <cbc:CityName>{e(buyer_city)}</cbc:CityName>
        <cbc:PostalZone>{e(buyer_postal_code)}</cbc:PostalZone>
        <cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>
      </cac:PostalAddress>{buyer_tax}
      <cac:PartyLegalEntity><cbc:RegistrationName>{e(buyer_name)}</cbc:RegistrationName></cac:PartyLegalEntity>
    </cac:Party>
  </cac:AccountingCustomerParty>{delivery}
  <cac:PaymentMeans>
    <cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>
    <cac:PayeeFinancialAccount>
      <cbc:ID>{e(s.iban)}</cbc:ID>
      <cbc:Name>{e(s.name)}</cbc:Name>
      <cac:FinancialInstitutionBranch><cbc:ID>{e(s.bic)}</cbc:ID></cac:FinancialInstitutionBranch>
    </cac:PayeeFinancialAccount>
  </cac:PaymentMeans>
  <cac:PaymentTerms><cbc:Note>{e(payment_terms)}</cbc:Note></cac:PaymentTerms>
  <cac:TaxTotal>
    <cbc:TaxAmount currencyID="EUR">{_m(total_tax)}</cbc:TaxAmount>{''.join(subtotals)}
  </cac:TaxTotal>
  <cac:LegalMonetaryTotal>
    <cbc:LineExtensionAmount currencyID="EUR">{_m(total_net)}</cbc:LineExtensionAmount>
    <cbc:TaxExclusiveAmount currencyID="EUR">{_m(total_net)}</cbc:TaxExclusiveAmount>
    <cbc:TaxInclusiveAmount currencyID="EUR">{_m(gross)}</cbc:TaxInclusiveAmount>
    <cbc:PayableAmount currencyID="EUR">{_m(gross)}</cbc:PayableAmount>
  </cac:LegalMonetaryTotal>{''.join(line_xml)}
</ubl:Invoice>
"""
    return xml.encode("utf-8")


def demo_invoice_for(tenant, number: str, lines: list[DemoLine] | None = None, **kw) -> bytes:
    return build_ubl(
        number=number, leitweg_id=tenant.leitweg_id, buyer_name=tenant.name, buyer_street=tenant.street or "-",
        buyer_postal_code=tenant.postal_code or "00000", buyer_city=tenant.city or "-",
        lines=lines or [DemoLine("Kopierpapier A4, 80 g/m², Karton à 2.500 Blatt", Decimal("4"), Decimal("21.50")),
                        DemoLine("Ordner A4, 8 cm, blau", Decimal("20"), Decimal("1.90"))],
        **kw)


def seed_demo_invoices(tenant) -> list:
    """A few received invoices in different states for the demo: one waiting for the formal check, one
    ordered for payment (ready for the next payment run), one invalid (rejected with a letter) and one
    duplicate. Idempotent by the demo invoice numbers."""
    if not tenant.leitweg_id or EInvoice.objects.filter(tenant=tenant, invoice_number__startswith="DEMO-").exists():
        return []
    made = [receive_invoice(tenant, demo_invoice_for(tenant, "DEMO-2026-0101"), actor="demo", channel="demo",
                            filename="buerobedarf-0101.xml")]
    ordered = receive_invoice(
        tenant, demo_invoice_for(tenant, "DEMO-2026-0102", lines=[DemoLine("Toner schwarz, Originalkartusche",
                                                                           Decimal("3"), Decimal("89.90"))],
                                 payment_terms="Zahlbar innerhalb 30 Tagen.\n#SKONTO#TAGE=14#PROZENT=2.00#\n"),
        actor="demo", channel="demo", filename="buerobedarf-0102.xml")
    made.append(ordered)
    booking = {"produkt": "02.2.01", "konto": "5431000", "finanzkonto": "7431000", "kostenstelle": "320"}
    users = {"formale_pruefung": "kasse", "sachlich_richtig": "sachbearbeitung", "rechnerisch_richtig": "leitung",
             "anordnung": "stellvertretung"}
    User = get_user_model()
    for name, username in users.items():
        task = Task.objects.filter(case=ordered.case, name=name, state=TaskState.OPEN).first()
        user = User.objects.filter(username=username).first()
        m = Membership.objects.filter(user=user, tenant=tenant).first() if user else None
        if task is None or m is None:
            break
        data = {"decision": "approve"} if name == "formale_pruefung" else {"decision": "approve", "buchung": booking}
        complete_task(m, task.pk, data)
    broken = demo_invoice_for(tenant, "DEMO-2026-0103").replace(
        b"<cbc:BuyerReference>", b"<cbc:Note>Rechnung ohne Leitweg-ID</cbc:Note><cbc:BuyerReference>", 1)
    broken = broken.replace(f"<cbc:BuyerReference>{tenant.leitweg_id}</cbc:BuyerReference>".encode(), b"")
    made.append(receive_invoice(tenant, broken, actor="demo", channel="demo", filename="fehlerhaft-0103.xml"))
    made.append(receive_invoice(tenant, demo_invoice_for(tenant, "DEMO-2026-0101"), actor="demo", channel="demo",
                                filename="buerobedarf-0101-nochmal.xml"))
    return made


def build_cii(*, number: str, leitweg_id: str, buyer_name: str, buyer_street: str, buyer_postal_code: str,
              buyer_city: str, lines: list[DemoLine], seller: DemoSeller | None = None,
              issue_date: dt.date | None = None, due_date: dt.date | None = None,
              payment_terms: str = "Zahlbar innerhalb von 30 Tagen ohne Abzug.", order_reference: str = "",
              buyer_vat_id: str = "") -> bytes:
    """The same invoice as `build_ubl`, as XRechnung 3.0 in UN/CEFACT CII D16B syntax."""
    s = seller or DemoSeller()
    issue_date = issue_date or dt.date.today()
    due_date = due_date or issue_date + dt.timedelta(days=30)
    e = lambda v: escape(str(v))  # noqa: E731
    d102 = lambda d: d.strftime("%Y%m%d")  # noqa: E731
    line_xml = []
    for i, ln in enumerate(lines, start=1):
        net = _net(ln)
        line_xml.append(f"""
    <ram:IncludedSupplyChainTradeLineItem>
      <ram:AssociatedDocumentLineDocument><ram:LineID>{i}</ram:LineID></ram:AssociatedDocumentLineDocument>
      <ram:SpecifiedTradeProduct><ram:Name>{e(ln.name)}</ram:Name></ram:SpecifiedTradeProduct>
      <ram:SpecifiedLineTradeAgreement>
        <ram:NetPriceProductTradePrice><ram:ChargeAmount>{_m(ln.unit_price)}</ram:ChargeAmount></ram:NetPriceProductTradePrice>
      </ram:SpecifiedLineTradeAgreement>
      <ram:SpecifiedLineTradeDelivery>
        <ram:BilledQuantity unitCode="{e(ln.unit)}">{e(ln.quantity)}</ram:BilledQuantity>
      </ram:SpecifiedLineTradeDelivery>
      <ram:SpecifiedLineTradeSettlement>
        <ram:ApplicableTradeTax>
          <ram:TypeCode>VAT</ram:TypeCode>
          <ram:CategoryCode>{e(ln.vat_category)}</ram:CategoryCode>
          <ram:RateApplicablePercent>{e(ln.vat_percent if ln.vat_category == "S" else 0)}</ram:RateApplicablePercent>
        </ram:ApplicableTradeTax>
        <ram:SpecifiedTradeSettlementLineMonetarySummation>
          <ram:LineTotalAmount>{_m(net)}</ram:LineTotalAmount>
        </ram:SpecifiedTradeSettlementLineMonetarySummation>
      </ram:SpecifiedLineTradeSettlement>
    </ram:IncludedSupplyChainTradeLineItem>""")
    groups, total_net, total_tax = _vat_groups(lines)
    taxes = []
    for category, rate, base, tax in groups:
        reason = code = ""
        if category in EXEMPTION:
            code = f"\n        <ram:ExemptionReasonCode>{EXEMPTION[category][0]}</ram:ExemptionReasonCode>"
            reason = f"\n        <ram:ExemptionReason>{e(EXEMPTION[category][1])}</ram:ExemptionReason>"
        taxes.append(f"""
      <ram:ApplicableTradeTax>
        <ram:CalculatedAmount>{_m(tax)}</ram:CalculatedAmount>
        <ram:TypeCode>VAT</ram:TypeCode>{reason}
        <ram:BasisAmount>{_m(base)}</ram:BasisAmount>
        <ram:CategoryCode>{category}</ram:CategoryCode>{code}
        <ram:RateApplicablePercent>{e(rate)}</ram:RateApplicablePercent>
      </ram:ApplicableTradeTax>""")
    gross = total_net + total_tax
    buyer_tax = (f"""
        <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{e(buyer_vat_id)}</ram:ID></ram:SpecifiedTaxRegistration>"""
                 if buyer_vat_id else "")
    delivery = ("<ram:ApplicableHeaderTradeDelivery/>" if not any(ln.vat_category == "K" for ln in lines) else
                f"""<ram:ApplicableHeaderTradeDelivery>
      <ram:ShipToTradeParty><ram:PostalTradeAddress><ram:PostcodeCode>{e(buyer_postal_code)}</ram:PostcodeCode><ram:CityName>{e(buyer_city)}</ram:CityName><ram:CountryID>DE</ram:CountryID></ram:PostalTradeAddress></ram:ShipToTradeParty>
      <ram:ActualDeliverySupplyChainEvent><ram:OccurrenceDateTime><udt:DateTimeString format="102">{d102(issue_date)}</udt:DateTimeString></ram:OccurrenceDateTime></ram:ActualDeliverySupplyChainEvent>
    </ram:ApplicableHeaderTradeDelivery>""")
    order = (f"\n      <ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>{e(order_reference)}"
             f"</ram:IssuerAssignedID></ram:BuyerOrderReferencedDocument>" if order_reference else "")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
    xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
    xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
    xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
  <rsm:ExchangedDocumentContext>
    <ram:BusinessProcessSpecifiedDocumentContextParameter><ram:ID>{PROFILE}</ram:ID></ram:BusinessProcessSpecifiedDocumentContextParameter>
    <ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>{CUSTOMIZATION}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>
  </rsm:ExchangedDocumentContext>
  <rsm:ExchangedDocument>
    <ram:ID>{e(number)}</ram:ID>
    <ram:TypeCode>380</ram:TypeCode>
    <ram:IssueDateTime><udt:DateTimeString format="102">{d102(issue_date)}</udt:DateTimeString></ram:IssueDateTime>
  </rsm:ExchangedDocument>
  <rsm:SupplyChainTradeTransaction>{''.join(line_xml)}
    <ram:ApplicableHeaderTradeAgreement>
      <ram:BuyerReference>{e(leitweg_id)}</ram:BuyerReference>
      <ram:SellerTradeParty>
        <ram:Name>{e(s.name)}</ram:Name>
        <ram:DefinedTradeContact>
          <ram:PersonName>{e(s.contact)}</ram:PersonName>
          <ram:TelephoneUniversalCommunication><ram:CompleteNumber>{e(s.phone)}</ram:CompleteNumber></ram:TelephoneUniversalCommunication>
          <ram:EmailURIUniversalCommunication><ram:URIID>{e(s.email)}</ram:URIID></ram:EmailURIUniversalCommunication>
        </ram:DefinedTradeContact>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>{e(s.postal_code)}</ram:PostcodeCode>
          <ram:LineOne>{e(s.street)}</ram:LineOne>
          <ram:CityName>{e(s.city)}</ram:CityName>
          <ram:CountryID>DE</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication><ram:URIID schemeID="EM">{e(s.email)}</ram:URIID></ram:URIUniversalCommunication>
        <ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{e(s.vat_id)}</ram:ID></ram:SpecifiedTaxRegistration>
      </ram:SellerTradeParty>
      <ram:BuyerTradeParty>
        <ram:Name>{e(buyer_name)}</ram:Name>
        <ram:PostalTradeAddress>
          <ram:PostcodeCode>{e(buyer_postal_code)}</ram:PostcodeCode>
          <ram:LineOne>{e(buyer_street)}</ram:LineOne>
          <ram:CityName>{e(buyer_city)}</ram:CityName>
          <ram:CountryID>DE</ram:CountryID>
        </ram:PostalTradeAddress>
        <ram:URIUniversalCommunication><ram:URIID schemeID="0204">{e(leitweg_id)}</ram:URIID></ram:URIUniversalCommunication>{buyer_tax}
      </ram:BuyerTradeParty>{order}
    </ram:ApplicableHeaderTradeAgreement>
    {delivery}
    <ram:ApplicableHeaderTradeSettlement>
      <ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode>
      <ram:SpecifiedTradeSettlementPaymentMeans>
        <ram:TypeCode>58</ram:TypeCode>
        <ram:PayeePartyCreditorFinancialAccount>
          <ram:IBANID>{e(s.iban)}</ram:IBANID>
          <ram:AccountName>{e(s.name)}</ram:AccountName>
        </ram:PayeePartyCreditorFinancialAccount>
        <ram:PayeeSpecifiedCreditorFinancialInstitution><ram:BICID>{e(s.bic)}</ram:BICID></ram:PayeeSpecifiedCreditorFinancialInstitution>
      </ram:SpecifiedTradeSettlementPaymentMeans>{''.join(taxes)}
      <ram:SpecifiedTradePaymentTerms>
        <ram:Description>{e(payment_terms)}</ram:Description>
        <ram:DueDateDateTime><udt:DateTimeString format="102">{d102(due_date)}</udt:DateTimeString></ram:DueDateDateTime>
      </ram:SpecifiedTradePaymentTerms>
      <ram:SpecifiedTradeSettlementHeaderMonetarySummation>
        <ram:LineTotalAmount>{_m(total_net)}</ram:LineTotalAmount>
        <ram:TaxBasisTotalAmount>{_m(total_net)}</ram:TaxBasisTotalAmount>
        <ram:TaxTotalAmount currencyID="EUR">{_m(total_tax)}</ram:TaxTotalAmount>
        <ram:GrandTotalAmount>{_m(gross)}</ram:GrandTotalAmount>
        <ram:DuePayableAmount>{_m(gross)}</ram:DuePayableAmount>
      </ram:SpecifiedTradeSettlementHeaderMonetarySummation>
    </ram:ApplicableHeaderTradeSettlement>
  </rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
"""
    return xml.encode("utf-8")


def demo_cii_invoice_for(tenant, number: str, lines: list[DemoLine] | None = None, **kw) -> bytes:
    """`demo_invoice_for` in CII syntax."""
    return build_cii(
        number=number, leitweg_id=tenant.leitweg_id, buyer_name=tenant.name, buyer_street=tenant.street or "-",
        buyer_postal_code=tenant.postal_code or "00000", buyer_city=tenant.city or "-",
        lines=lines or [DemoLine("Kopierpapier A4, 80 g/m², Karton à 2.500 Blatt", Decimal("4"), Decimal("21.50")),
                        DemoLine("Ordner A4, 8 cm, blau", Decimal("20"), Decimal("1.90"))],
        **kw)
