"""Conformance tooling for the native XRechnung rules: corpus discovery, comparison of native and
official (KoSIT compiled XSL) findings, and mutations of valid KoSIT instances that break one rule.

Used by `tests/test_einvoice_rules_de.py` and `scripts/einvoice_conformance.py`; nothing here runs
in production. The corpora: `RATHAUS_CORPORA` if set (the tests set it to their vendored copy,
`tests/corpora`), else the full set beside the project (`../shared/corpora`).
"""

from __future__ import annotations

import copy
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from . import rules_de

PROJECT = Path(__file__).resolve().parents[3]
CORPORA = Path(os.environ.get("RATHAUS_CORPORA") or PROJECT.parent / "shared" / "corpora")
XSL_DIR = (CORPORA / "rules" / "kosit-validator-config-xrechnung-3.0.2-release-2025-03-21-compiled" / "resources"
           / "xrechnung" / "3.0.2" / "xsl")
OFFICIAL_XSL = {"ubl": XSL_DIR / "XRechnung-UBL-validation.xsl", "cii": XSL_DIR / "XRechnung-CII-validation.xsl"}
TESTSUITE = CORPORA / "xrechnung-testsuite"
BASE = {"ubl": TESTSUITE / "business-cases" / "standard" / "01.01a-INVOICE_ubl.xml",
        "cii": TESTSUITE / "business-cases" / "standard" / "01.01a-INVOICE_uncefact.xml",
        # a UBL CreditNote without any finding of the official rule set (KoSIT unit-test instance)
        "ubl-cn": CORPORA / "xrechnung-schematron-unit-tests" / "ubl-cn" / "ubl-cn-br-de-1-test.xml"}
SYNTAX = {"ubl": "ubl", "ubl-cn": "ubl", "cii": "cii"}


def available() -> bool:
    return OFFICIAL_XSL["ubl"].is_file() and BASE["ubl"].is_file()


def corpus_files() -> list[Path]:
    """Every XML instance of the KoSIT test suite, the CEN examples and test files, and the KoSIT rule
    unit tests."""
    files = sorted(TESTSUITE.rglob("*.xml"))
    for sub in ("ubl/examples", "cii/examples"):
        files += sorted(p for p in (CORPORA / "en16931-cen" / sub).glob("*") if p.suffix.lower() == ".xml")
    files += sorted((CORPORA / "en16931-cen" / "test" / "testfiles").glob("*.xml"))
    files += sorted((CORPORA / "xrechnung-schematron-unit-tests").rglob("*.xml"))
    return files


_UBL_ROOTS = ("{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice",
              "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote")


def cen_unit_test_files() -> list[Path]:
    """CEN rule unit tests: <testSet> files, each <test> holding an invoice fragment."""
    base = CORPORA / "en16931-cen" / "test"
    return sorted((base / "Invoice-unit-UBL").glob("*.xml")) + sorted((base / "CreditNote-unit-UBL").glob("*.xml"))


def cen_fragments(path: Path) -> list[bytes]:
    """The UBL Invoice/CreditNote documents inside a CEN unit-test file, as standalone documents."""
    root = parse(path.read_bytes())
    return [etree.tostring(el) for el in root.iter(*_UBL_ROOTS)]


def syntax_of(root) -> str | None:
    ns = etree.QName(root).namespace or ""
    if "CrossIndustryInvoice" in ns:
        return "cii"
    if ns.startswith("urn:oasis:names:specification:ubl:schema:xsd:"):
        return "ubl"
    return None


def parse(data: bytes):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    return etree.fromstring(data, parser)


@dataclass
class Comparison:
    native: Counter          # (rule, location) -> count
    official: Counter
    native_full: Counter | None = None    # (rule, location, flag, message) -> count
    official_full: Counter | None = None

    def messages_agree(self) -> bool:
        """Flags and message texts (whitespace-normalised) are the same as well."""
        return self.native_full == self.official_full

    def rules(self) -> set[str]:
        return {r for r, _ in self.native} | {r for r, _ in self.official}

    def agrees(self, rule: str) -> bool:
        return (Counter({k: v for k, v in self.native.items() if k[0] == rule})
                == Counter({k: v for k, v in self.official.items() if k[0] == rule}))

    def disagreements(self) -> dict[str, tuple[dict, dict]]:
        out = {}
        for rule in sorted(self.rules()):
            if not self.agrees(rule):
                n = {k[1]: v for k, v in self.native.items() if k[0] == rule}
                o = {k[1]: v for k, v in self.official.items() if k[0] == rule}
                out[rule] = (n, o)
        return out


def compare(data: bytes, syntax: str) -> Comparison:
    from .xslt import run_svrl

    official = Counter((r.rule, r.location, r.flag, r.text) for r in run_svrl(OFFICIAL_XSL[syntax], data))
    native = Counter((f.rule, f.location, f.flag, " ".join(f.message.split())) for f in rules_de.check(data, syntax))
    return Comparison(Counter(k[:2] for k in native.elements()), Counter(k[:2] for k in official.elements()),
                      native, official)


# ---------------------------------------------------------------- mutations

NS = {**rules_de.NS_UBL, **rules_de.NS_CII}
_DECL = " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items())


def _frag(xml: str) -> list:
    return list(etree.fromstring(f"<w {_DECL}>{xml}</w>"))


def _one(root, xpath: str):
    nodes = root.xpath(xpath, namespaces=NS)
    if not nodes:
        raise LookupError(f"mutation: kein Knoten für {xpath}")
    return nodes[0]


def apply_ops(root, ops) -> None:
    for op in ops:
        kind = op[0]
        if kind == "remove":
            for n in root.xpath(op[1], namespaces=NS):
                n.getparent().remove(n)
        elif kind == "text":
            _one(root, op[1]).text = op[2]
        elif kind == "attr":
            _one(root, op[1]).set(op[2], op[3])
        elif kind == "append":
            parent = _one(root, op[1])
            for el in _frag(op[2]):
                parent.append(el)
        elif kind == "after":
            anchor = _one(root, op[1])
            for el in reversed(_frag(op[2])):
                anchor.addnext(el)
        elif kind == "copy":            # duplicate a node right after itself
            node = _one(root, op[1])
            node.addnext(copy.deepcopy(node))
        elif kind == "ext":
            path = ("/ubl:Invoice/cbc:CustomizationID | /cn:CreditNote/cbc:CustomizationID" if syntax_of(root) == "ubl" else
                    "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")
            _one(root, path).text = rules_de.XR_EXTENSION_ID
        else:
            raise ValueError(kind)


def mutate(kind: str, ops) -> bytes:
    """A copy of the base instance of `kind` ("ubl", "ubl-cn", "cii") with the operations applied."""
    root = parse(BASE[kind].read_bytes())
    apply_ops(root, ops)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# UBL paths
_ASP = "/ubl:Invoice/cac:AccountingSupplierParty/cac:Party"
_ACP = "/ubl:Invoice/cac:AccountingCustomerParty/cac:Party"
_PM = "/ubl:Invoice/cac:PaymentMeans"
_L1 = "/ubl:Invoice/cac:InvoiceLine[1]"
_AC = ('<cac:AllowanceCharge><cbc:ChargeIndicator>{ind}</cbc:ChargeIndicator>{extra}'
       '<cbc:Amount currencyID="EUR">{amount}</cbc:Amount>{base}</cac:AllowanceCharge>')
_MANDATE_OK = ('<cac:PaymentMandate><cbc:ID>M-1</cbc:ID><cac:PayerFinancialAccount>'
               '<cbc:ID>DE79000000001234567890</cbc:ID></cac:PayerFinancialAccount></cac:PaymentMandate>')
_SEPA = ("after", f"{_ASP}/cbc:EndpointID",
         '<cac:PartyIdentification><cbc:ID schemeID="SEPA">DE98ZZZ09999999999</cbc:ID></cac:PartyIdentification>')
_PREPAID = ('<cac:PrepaidPayment>{id}{amount}{instr}</cac:PrepaidPayment>')
_PP_ID = "<cbc:ID>Gutschein</cbc:ID>"
_PP_INSTR = "<cbc:InstructionID>Gutschein 1</cbc:InstructionID>"
_ADR = ('<cac:AdditionalDocumentReference><cbc:ID>{id}</cbc:ID><cac:Attachment>{att}</cac:Attachment>'
        '</cac:AdditionalDocumentReference>')
_EMB = '<cbc:EmbeddedDocumentBinaryObject mimeCode="{mime}" filename="{name}">QUJD</cbc:EmbeddedDocumentBinaryObject>'
_BEFORE_PARTY = "/ubl:Invoice/cbc:BuyerReference"

UBL_MUTATIONS: dict[str, list] = {
    "PEPPOL-EN16931-R008": [("text", "/ubl:Invoice/cbc:Note", "")],
    "PEPPOL-EN16931-R001": [("remove", "/ubl:Invoice/cbc:ProfileID")],
    "PEPPOL-EN16931-R053": [("copy", "/ubl:Invoice/cac:TaxTotal")],
    "PEPPOL-EN16931-R054": [("after", "/ubl:Invoice/cac:TaxTotal",
                             '<cac:TaxTotal><cbc:TaxAmount currencyID="EUR">1.00</cbc:TaxAmount></cac:TaxTotal>')],
    "PEPPOL-EN16931-R055": [("after", "/ubl:Invoice/cbc:DocumentCurrencyCode", "<cbc:TaxCurrencyCode>USD</cbc:TaxCurrencyCode>"),
                            ("after", "/ubl:Invoice/cac:TaxTotal",
                             '<cac:TaxTotal><cbc:TaxAmount currencyID="USD">-5.00</cbc:TaxAmount></cac:TaxTotal>')],
    "PEPPOL-EN16931-R005": [("after", "/ubl:Invoice/cbc:DocumentCurrencyCode", "<cbc:TaxCurrencyCode>EUR</cbc:TaxCurrencyCode>")],
    "PEPPOL-EN16931-R010": [("remove", f"{_ACP}/cbc:EndpointID")],
    "PEPPOL-EN16931-R020": [("remove", f"{_ASP}/cbc:EndpointID")],
    "PEPPOL-EN16931-R041": [("after", _PM, _AC.format(ind="false", amount="1.00", base="",
                             extra="<cbc:MultiplierFactorNumeric>10</cbc:MultiplierFactorNumeric>"))],
    "PEPPOL-EN16931-R042": [("after", _PM, _AC.format(ind="false", amount="1.00", extra="",
                             base='<cbc:BaseAmount currencyID="EUR">10.00</cbc:BaseAmount>'))],
    "PEPPOL-EN16931-R040": [("after", _PM, _AC.format(ind="false", amount="5.00",
                             extra="<cbc:MultiplierFactorNumeric>10</cbc:MultiplierFactorNumeric>",
                             base='<cbc:BaseAmount currencyID="EUR">100.00</cbc:BaseAmount>'))],
    "PEPPOL-EN16931-R043": [("after", _PM, _AC.format(ind="yes", amount="1.00", extra="", base=""))],
    "PEPPOL-EN16931-R061": [("text", f"{_PM}/cbc:PaymentMeansCode", "59")],
    "PEPPOL-EN16931-R110": [("after", "/ubl:Invoice/cbc:BuyerReference",
                             "<cac:InvoicePeriod><cbc:StartDate>2016-02-01</cbc:StartDate></cac:InvoicePeriod>")],
    "PEPPOL-EN16931-R111": [("after", "/ubl:Invoice/cbc:BuyerReference",
                             "<cac:InvoicePeriod><cbc:EndDate>2016-11-30</cbc:EndDate></cac:InvoicePeriod>")],
    "PEPPOL-EN16931-R120": [("text", f"{_L1}/cbc:LineExtensionAmount", "100.00")],
    "PEPPOL-EN16931-R121": [("append", f"{_L1}/cac:Price", '<cbc:BaseQuantity unitCode="XPP">0</cbc:BaseQuantity>')],
    "PEPPOL-EN16931-R101": [("after", f"{_L1}/cac:OrderLineReference",
                             "<cac:DocumentReference><cbc:ID>X</cbc:ID><cbc:DocumentTypeCode>50</cbc:DocumentTypeCode>"
                             "</cac:DocumentReference>")],
    "PEPPOL-EN16931-R044": [("append", f"{_L1}/cac:Price", _AC.format(ind="true", amount="0.00", extra="", base=""))],
    "PEPPOL-EN16931-R046": [("append", f"{_L1}/cac:Price", _AC.format(
        ind="false", amount="5.00", extra="", base='<cbc:BaseAmount currencyID="EUR">300.00</cbc:BaseAmount>'))],
    "PEPPOL-EN16931-R130": [("append", f"{_L1}/cac:Price", '<cbc:BaseQuantity unitCode="H87">1</cbc:BaseQuantity>')],
    "BR-DE-1": [("remove", _PM)],
    "BR-DE-15": [("remove", "/ubl:Invoice/cbc:BuyerReference")],
    "BR-DE-16": [("remove", f"{_ASP}/cac:PartyTaxScheme")],
    "BR-DE-17": [("text", "/ubl:Invoice/cbc:InvoiceTypeCode", "71")],
    "BR-DE-18": [("text", "/ubl:Invoice/cac:PaymentTerms/cbc:Note", "#SKONTO#TAGE=14#PROZENT=2#\n")],
    "BR-DE-21": [("text", "/ubl:Invoice/cbc:CustomizationID", "urn:cen.eu:en16931:2017")],
    "BR-DE-22": [("after", _BEFORE_PARTY, _ADR.format(id="A1", att=_EMB.format(mime="application/pdf", name="a.pdf"))
                  + _ADR.format(id="A2", att=_EMB.format(mime="application/pdf", name="a.pdf")))],
    "BR-DE-26": [("text", "/ubl:Invoice/cbc:InvoiceTypeCode", "384")],
    "BR-DE-30": [("text", f"{_PM}/cbc:PaymentMeansCode", "59"), ("remove", f"{_PM}/cac:PayeeFinancialAccount"),
                 ("append", _PM, _MANDATE_OK)],
    "BR-DE-31": [("text", f"{_PM}/cbc:PaymentMeansCode", "59"), ("remove", f"{_PM}/cac:PayeeFinancialAccount"),
                 ("append", _PM, "<cac:PaymentMandate><cbc:ID>M-1</cbc:ID></cac:PaymentMandate>"), _SEPA],
    "BR-TMP-2": [("after", _BEFORE_PARTY, _ADR.format(
        id="A1", att="<cac:ExternalReference><cbc:URI>www.example.org/a.pdf</cbc:URI></cac:ExternalReference>"))],
    "BR-DE-2": [("remove", f"{_ASP}/cac:Contact")],
    "BR-DE-3": [("remove", f"{_ASP}/cac:PostalAddress/cbc:CityName")],
    "BR-DE-4": [("remove", f"{_ASP}/cac:PostalAddress/cbc:PostalZone")],
    "BR-DE-5": [("remove", f"{_ASP}/cac:Contact/cbc:Name")],
    "BR-DE-6": [("remove", f"{_ASP}/cac:Contact/cbc:Telephone")],
    "BR-DE-7": [("remove", f"{_ASP}/cac:Contact/cbc:ElectronicMail")],
    "BR-DE-27": [("text", f"{_ASP}/cac:Contact/cbc:Telephone", "Tel. 12")],
    "BR-DE-28": [("text", f"{_ASP}/cac:Contact/cbc:ElectronicMail", "seller@@email.de")],
    "BR-DE-8": [("remove", f"{_ACP}/cac:PostalAddress/cbc:CityName")],
    "BR-DE-9": [("remove", f"{_ACP}/cac:PostalAddress/cbc:PostalZone")],
    "BR-DE-10": [("after", "/ubl:Invoice/cac:AccountingCustomerParty",
                  "<cac:Delivery><cac:DeliveryLocation><cac:Address><cbc:PostalZone>12345</cbc:PostalZone>"
                  "<cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>"
                  "</cac:Address></cac:DeliveryLocation></cac:Delivery>")],
    "BR-DE-11": [("after", "/ubl:Invoice/cac:AccountingCustomerParty",
                  "<cac:Delivery><cac:DeliveryLocation><cac:Address><cbc:CityName>Stadt</cbc:CityName>"
                  "<cac:Country><cbc:IdentificationCode>DE</cbc:IdentificationCode></cac:Country>"
                  "</cac:Address></cac:DeliveryLocation></cac:Delivery>")],
    "BR-DE-14": [("remove", "/ubl:Invoice/cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:Percent")],
    "BR-DE-19": [("text", f"{_PM}/cac:PayeeFinancialAccount/cbc:ID", "DE00000000001234567890")],
    "BR-DE-20": [("text", f"{_PM}/cbc:PaymentMeansCode", "59"), ("remove", f"{_PM}/cac:PayeeFinancialAccount"),
                 ("append", _PM, _MANDATE_OK.replace("DE79000000001234567890", "DE00000000001234567890")), _SEPA],
    "BR-DE-23-a": [("remove", f"{_PM}/cac:PayeeFinancialAccount")],
    "BR-DE-23-b": [("append", _PM, "<cac:CardAccount><cbc:PrimaryAccountNumberID>1234</cbc:PrimaryAccountNumberID>"
                                   "<cbc:NetworkID>VISA</cbc:NetworkID></cac:CardAccount>")],
    "BR-DE-24-a": [("text", f"{_PM}/cbc:PaymentMeansCode", "48")],
    "BR-DE-24-b": [("text", f"{_PM}/cbc:PaymentMeansCode", "54"),
                   ("append", _PM, "<cac:CardAccount><cbc:PrimaryAccountNumberID>1234</cbc:PrimaryAccountNumberID>"
                                   "<cbc:NetworkID>VISA</cbc:NetworkID></cac:CardAccount>")],
    "BR-DE-25-a": [("text", f"{_PM}/cbc:PaymentMeansCode", "59")],
    "BR-DE-25-b": [("text", f"{_PM}/cbc:PaymentMeansCode", "59"), ("append", _PM, _MANDATE_OK), _SEPA],
    "BR-DEX-01": [("ext",), ("after", _BEFORE_PARTY, _ADR.format(id="A1", att=_EMB.format(mime="text/plain", name="a.txt")))],
    "BR-DEX-02": [("ext",), ("append", _L1,
                  '<cac:SubInvoiceLine><cbc:ID>1.1</cbc:ID><cbc:InvoicedQuantity unitCode="XPP">1</cbc:InvoicedQuantity>'
                  '<cbc:LineExtensionAmount currencyID="EUR">100.00</cbc:LineExtensionAmount><cac:Item><cbc:Name>T</cbc:Name>'
                  '<cac:ClassifiedTaxCategory><cbc:ID>S</cbc:ID><cbc:Percent>7</cbc:Percent><cac:TaxScheme><cbc:ID>VAT</cbc:ID>'
                  '</cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item><cac:Price><cbc:PriceAmount currencyID="EUR">100.00'
                  '</cbc:PriceAmount></cac:Price></cac:SubInvoiceLine>')],
    "BR-DEX-03": [("ext",), ("append", _L1,
                  '<cac:SubInvoiceLine><cbc:ID>1.1</cbc:ID><cbc:InvoicedQuantity unitCode="XPP">1</cbc:InvoicedQuantity>'
                  '<cbc:LineExtensionAmount currencyID="EUR">288.79</cbc:LineExtensionAmount><cac:Item><cbc:Name>T</cbc:Name>'
                  '</cac:Item><cac:Price><cbc:PriceAmount currencyID="EUR">288.79</cbc:PriceAmount></cac:Price>'
                  '</cac:SubInvoiceLine>')],
    "BR-DEX-09": [("ext",), ("after", "/ubl:Invoice/cac:PaymentTerms", _PREPAID.format(
        id=_PP_ID, amount='<cbc:PaidAmount currencyID="EUR">10.00</cbc:PaidAmount>', instr=_PP_INSTR))],
    "BR-DEX-04": [("ext",), ("attr", f"{_ACP}/cac:PartyIdentification/cbc:ID", "schemeID", "XXXX")],
    "BR-DEX-05": [("ext",), ("attr", f"{_ASP}/cac:PartyLegalEntity/cbc:CompanyID", "schemeID", "XXXX")],
    "BR-DEX-06": [("ext",), ("after", f"{_L1}/cac:Item/cac:SellersItemIdentification",
                             '<cac:StandardItemIdentification><cbc:ID schemeID="XXXX">4000001000005</cbc:ID>'
                             '</cac:StandardItemIdentification>')],
    "BR-DEX-07": [("ext",), ("attr", f"{_ASP}/cbc:EndpointID", "schemeID", "XXXX")],
    "BR-DEX-08": [("ext",), ("after", "/ubl:Invoice/cac:AccountingCustomerParty",
                             '<cac:Delivery><cac:DeliveryLocation><cbc:ID schemeID="XXXX">123</cbc:ID>'
                             '</cac:DeliveryLocation></cac:Delivery>')],
    "BR-DEX-10": [("ext",), ("after", "/ubl:Invoice/cac:PaymentTerms", _PREPAID.format(
        id="", amount='<cbc:PaidAmount currencyID="EUR">0.00</cbc:PaidAmount>', instr=_PP_INSTR))],
    "BR-DEX-11": [("ext",), ("after", "/ubl:Invoice/cac:PaymentTerms", _PREPAID.format(id=_PP_ID, amount="", instr=_PP_INSTR))],
    "BR-DEX-12": [("ext",), ("after", "/ubl:Invoice/cac:PaymentTerms", _PREPAID.format(
        id=_PP_ID, amount='<cbc:PaidAmount currencyID="EUR">0.00</cbc:PaidAmount>', instr=""))],
    "BR-DEX-13": [("ext",), ("after", "/ubl:Invoice/cac:PaymentTerms", _PREPAID.format(
        id=_PP_ID, amount='<cbc:PaidAmount currencyID="EUR">0.001</cbc:PaidAmount>', instr=_PP_INSTR))],
    "BR-DEX-14": [("ext",), ("after", "/ubl:Invoice/cac:PaymentTerms", _PREPAID.format(
        id=_PP_ID, amount='<cbc:PaidAmount currencyID="USD">0.00</cbc:PaidAmount>', instr=_PP_INSTR))],
}

# CII paths
_T = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction"
_HA = f"{_T}/ram:ApplicableHeaderTradeAgreement"
_HS = f"{_T}/ram:ApplicableHeaderTradeSettlement"
_SEL = f"{_HA}/ram:SellerTradeParty"
_BUY = f"{_HA}/ram:BuyerTradeParty"
_CPM = f"{_HS}/ram:SpecifiedTradeSettlementPaymentMeans"
_CL1 = f"{_T}/ram:IncludedSupplyChainTradeLineItem[1]"
_SUM = f"{_HS}/ram:SpecifiedTradeSettlementHeaderMonetarySummation"
_CAC = ("<ram:SpecifiedTradeAllowanceCharge><ram:ChargeIndicator><udt:Indicator>{ind}</udt:Indicator>"
        "</ram:ChargeIndicator>{extra}<ram:ActualAmount>{amount}</ram:ActualAmount>"
        "<ram:CategoryTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>S</ram:CategoryCode>"
        "<ram:RateApplicablePercent>7</ram:RateApplicablePercent></ram:CategoryTradeTax></ram:SpecifiedTradeAllowanceCharge>")
_GROSS = ("<ram:GrossPriceProductTradePrice><ram:ChargeAmount>{gross}</ram:ChargeAmount>"
          "<ram:AppliedTradeAllowanceCharge><ram:ChargeIndicator><udt:Indicator>{ind}</udt:Indicator></ram:ChargeIndicator>"
          "<ram:ActualAmount>{amount}</ram:ActualAmount></ram:AppliedTradeAllowanceCharge></ram:GrossPriceProductTradePrice>")
_NET1 = f"{_CL1}/ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice"
_CARD = ("<ram:ApplicableTradeSettlementFinancialCard><ram:ID>1234</ram:ID>"
         "</ram:ApplicableTradeSettlementFinancialCard>")
_ARD = ("<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>{id}</ram:IssuerAssignedID>"
        "<ram:TypeCode>916</ram:TypeCode>{extra}</ram:AdditionalReferencedDocument>")
_ABO = '<ram:AttachmentBinaryObject mimeCode="{mime}" filename="{name}">QUJD</ram:AttachmentBinaryObject>'
_DD_TERMS = "<ram:DirectDebitMandateID>M-1</ram:DirectDebitMandateID>"

CII_MUTATIONS: dict[str, list] = {
    "PEPPOL-EN16931-R008": [("text", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:IncludedNote/ram:Content", "")],
    "PEPPOL-EN16931-R001": [("remove", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext"
                                       "/ram:BusinessProcessSpecifiedDocumentContextParameter")],
    "PEPPOL-EN16931-R005": [("after", f"{_HS}/ram:InvoiceCurrencyCode", "<ram:TaxCurrencyCode>EUR</ram:TaxCurrencyCode>")],
    "PEPPOL-EN16931-R053": [("copy", f"{_SUM}/ram:TaxTotalAmount")],
    "PEPPOL-EN16931-R054": [("after", f"{_SUM}/ram:TaxTotalAmount", '<ram:TaxTotalAmount currencyID="USD">1.00</ram:TaxTotalAmount>')],
    "PEPPOL-EN16931-R055": [("after", f"{_HS}/ram:InvoiceCurrencyCode", "<ram:TaxCurrencyCode>USD</ram:TaxCurrencyCode>"),
                            ("after", f"{_SUM}/ram:TaxTotalAmount",
                             '<ram:TaxTotalAmount currencyID="USD">-5.00</ram:TaxTotalAmount>')],
    "PEPPOL-EN16931-R010": [("remove", f"{_BUY}/ram:URIUniversalCommunication")],
    "PEPPOL-EN16931-R020": [("remove", f"{_SEL}/ram:URIUniversalCommunication")],
    "PEPPOL-EN16931-R041": [("after", f"{_HS}/ram:ApplicableTradeTax", _CAC.format(
        ind="false", amount="1.00", extra="<ram:CalculationPercent>10</ram:CalculationPercent>"))],
    "PEPPOL-EN16931-R042": [("after", f"{_HS}/ram:ApplicableTradeTax", _CAC.format(
        ind="false", amount="1.00", extra="<ram:BasisAmount>10.00</ram:BasisAmount>"))],
    "PEPPOL-EN16931-R040": [("after", f"{_HS}/ram:ApplicableTradeTax", _CAC.format(
        ind="false", amount="5.00",
        extra="<ram:CalculationPercent>10</ram:CalculationPercent><ram:BasisAmount>100.00</ram:BasisAmount>"))],
    "PEPPOL-EN16931-R043-1": [("after", f"{_HS}/ram:ApplicableTradeTax", _CAC.format(ind="yes", amount="1.00", extra=""))],
    "PEPPOL-EN16931-R043-2": [("after", f"{_CL1}/ram:SpecifiedLineTradeAgreement/ram:BuyerOrderReferencedDocument",
                               _GROSS.format(gross="288.79", ind="yes", amount="0.00"))],
    "PEPPOL-EN16931-R044": [("after", f"{_CL1}/ram:SpecifiedLineTradeAgreement/ram:BuyerOrderReferencedDocument",
                             _GROSS.format(gross="288.79", ind="true", amount="0.00"))],
    "PEPPOL-EN16931-R046": [("after", f"{_CL1}/ram:SpecifiedLineTradeAgreement/ram:BuyerOrderReferencedDocument",
                             _GROSS.format(gross="300.00", ind="false", amount="5.00"))],
    "PEPPOL-EN16931-R061": [("text", f"{_CPM}/ram:TypeCode", "59")],
    "PEPPOL-EN16931-R110": [("after", f"{_HS}/ram:ApplicableTradeTax",
                             '<ram:BillingSpecifiedPeriod><ram:StartDateTime><udt:DateTimeString format="102">20160201'
                             '</udt:DateTimeString></ram:StartDateTime></ram:BillingSpecifiedPeriod>')],
    "PEPPOL-EN16931-R111": [("after", f"{_HS}/ram:ApplicableTradeTax",
                             '<ram:BillingSpecifiedPeriod><ram:EndDateTime><udt:DateTimeString format="102">20161130'
                             '</udt:DateTimeString></ram:EndDateTime></ram:BillingSpecifiedPeriod>')],
    "PEPPOL-EN16931-R101": [("after", f"{_CL1}/ram:SpecifiedLineTradeSettlement/ram:BillingSpecifiedPeriod",
                             "<ram:AdditionalReferencedDocument><ram:IssuerAssignedID>X</ram:IssuerAssignedID>"
                             "<ram:TypeCode>50</ram:TypeCode></ram:AdditionalReferencedDocument>")],
    "PEPPOL-EN16931-R121": [("append", _NET1, '<ram:BasisQuantity unitCode="XPP">0</ram:BasisQuantity>')],
    "PEPPOL-EN16931-R130": [("append", _NET1, '<ram:BasisQuantity unitCode="H87">1</ram:BasisQuantity>')],
    "BR-DE-1": [("remove", _CPM)],
    "BR-DE-15": [("remove", f"{_HA}/ram:BuyerReference")],
    "BR-DE-16": [("remove", f"{_SEL}/ram:SpecifiedTaxRegistration")],
    "BR-DE-17": [("text", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode", "71")],
    "BR-DE-18": [("text", f"{_HS}/ram:SpecifiedTradePaymentTerms/ram:Description", "#SKONTO#TAGE=14#PROZENT=2#\n")],
    "BR-DE-21": [("text", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter"
                          "/ram:ID", "urn:cen.eu:en16931:2017")],
    "BR-DE-22": [("append", _HA, _ARD.format(id="A1", extra=_ABO.format(mime="application/pdf", name="a.pdf"))
                  + _ARD.format(id="A2", extra=_ABO.format(mime="application/pdf", name="a.pdf")))],
    "BR-DE-26": [("text", "/rsm:CrossIndustryInvoice/rsm:ExchangedDocument/ram:TypeCode", "384")],
    "BR-DE-30": [("append", f"{_HS}/ram:SpecifiedTradePaymentTerms", _DD_TERMS)],
    "BR-DE-31": [("after", f"{_HS}/ram:InvoiceCurrencyCode", "<ram:CreditorReferenceID>DE98ZZZ09999999999</ram:CreditorReferenceID>")],
    "BR-TMP-2": [("append", _HA, _ARD.format(id="A1", extra="<ram:URIID>www.example.org/a.pdf</ram:URIID>"))],
    "BR-DE-2": [("remove", f"{_SEL}/ram:DefinedTradeContact")],
    "BR-DE-3": [("remove", f"{_SEL}/ram:PostalTradeAddress/ram:CityName")],
    "BR-DE-4": [("remove", f"{_SEL}/ram:PostalTradeAddress/ram:PostcodeCode")],
    "BR-DE-5": [("remove", f"{_SEL}/ram:DefinedTradeContact/ram:PersonName")],
    "BR-DE-6": [("remove", f"{_SEL}/ram:DefinedTradeContact/ram:TelephoneUniversalCommunication")],
    "BR-DE-7": [("remove", f"{_SEL}/ram:DefinedTradeContact/ram:EmailURIUniversalCommunication")],
    "BR-DE-27": [("text", f"{_SEL}/ram:DefinedTradeContact/ram:TelephoneUniversalCommunication/ram:CompleteNumber", "Tel. 12")],
    "BR-DE-28": [("text", f"{_SEL}/ram:DefinedTradeContact/ram:EmailURIUniversalCommunication/ram:URIID", "a b@x.de")],
    "BR-DE-8": [("remove", f"{_BUY}/ram:PostalTradeAddress/ram:CityName")],
    "BR-DE-9": [("remove", f"{_BUY}/ram:PostalTradeAddress/ram:PostcodeCode")],
    "BR-DE-10": [("append", f"{_T}/ram:ApplicableHeaderTradeDelivery",
                  "<ram:ShipToTradeParty><ram:Name>Lager</ram:Name><ram:PostalTradeAddress><ram:PostcodeCode>12345"
                  "</ram:PostcodeCode><ram:CountryID>DE</ram:CountryID></ram:PostalTradeAddress></ram:ShipToTradeParty>")],
    "BR-DE-11": [("append", f"{_T}/ram:ApplicableHeaderTradeDelivery",
                  "<ram:ShipToTradeParty><ram:Name>Lager</ram:Name><ram:PostalTradeAddress><ram:CityName>Stadt"
                  "</ram:CityName><ram:CountryID>DE</ram:CountryID></ram:PostalTradeAddress></ram:ShipToTradeParty>")],
    "BR-DE-14": [("remove", f"{_HS}/ram:ApplicableTradeTax/ram:RateApplicablePercent")],
    "BR-DE-19": [("text", f"{_CPM}/ram:PayeePartyCreditorFinancialAccount/ram:IBANID", "DE00000000001234567890")],
    "BR-DE-20": [("text", f"{_CPM}/ram:TypeCode", "59"), ("remove", f"{_CPM}/ram:PayeePartyCreditorFinancialAccount"),
                 ("append", _CPM, "<ram:PayerPartyDebtorFinancialAccount><ram:IBANID>DE00000000001234567890</ram:IBANID>"
                                  "</ram:PayerPartyDebtorFinancialAccount>")],
    "BR-DE-23-a": [("remove", f"{_CPM}/ram:PayeePartyCreditorFinancialAccount")],
    "BR-DE-23-b": [("append", _CPM, _CARD)],
    "BR-DE-24-a": [("text", f"{_CPM}/ram:TypeCode", "48")],
    "BR-DE-24-b": [("text", f"{_CPM}/ram:TypeCode", "54"), ("append", _CPM, _CARD)],
    "BR-DE-25-a": [("text", f"{_CPM}/ram:TypeCode", "59"), ("remove", f"{_CPM}/ram:PayeePartyCreditorFinancialAccount")],
    "BR-DE-25-b": [("text", f"{_CPM}/ram:TypeCode", "59"), ("append", _CPM, _CARD)],
    "BR-DEX-15": [("ext",), ("append", f"{_CL1}/ram:AssociatedDocumentLineDocument", "<ram:ParentLineID>1</ram:ParentLineID>")],
    "BR-DEX-04": [("ext",), ("after", f"{_BUY}/ram:ID", '<ram:GlobalID schemeID="XXXX">123</ram:GlobalID>')],
    "BR-DEX-05": [("ext",), ("attr", f"{_BUY}/ram:ID", "schemeID", "XXXX")],
    "BR-DEX-06": [("ext",), ("after", f"{_CL1}/ram:SpecifiedTradeProduct/ram:SellerAssignedID",
                             '<ram:GlobalID schemeID="XXXX">4000001000005</ram:GlobalID>')],
    "BR-DEX-07": [("ext",), ("attr", f"{_SEL}/ram:URIUniversalCommunication/ram:URIID", "schemeID", "XXXX")],
    "BR-DEX-08": [("ext",), ("append", f"{_T}/ram:ApplicableHeaderTradeDelivery",
                             '<ram:ShipToTradeParty><ram:GlobalID schemeID="XXXX">123</ram:GlobalID></ram:ShipToTradeParty>')],
    "BR-DEX-01": [("ext",), ("append", _HA, _ARD.format(id="A1", extra=_ABO.format(mime="text/plain", name="a.txt")))],
}



def _to_credit_note(op: tuple) -> tuple:
    return tuple(x.replace("/ubl:Invoice", "/cn:CreditNote").replace("cac:InvoiceLine", "cac:CreditNoteLine")
                 .replace("cbc:InvoicedQuantity", "cbc:CreditedQuantity").replace("cbc:InvoiceTypeCode", "cbc:CreditNoteTypeCode")
                 if isinstance(x, str) else x for x in op)


_CN = "/cn:CreditNote"
# the Invoice mutations carried over to the CreditNote; where the CreditNote base differs, own operations;
# BR-DEX-02/-03/-10..-14 have Invoice-only contexts in the official rule set (/ubl:Invoice...)
CN_MUTATIONS: dict[str, list] = {
    rule: [_to_credit_note(op) for op in ops] for rule, ops in UBL_MUTATIONS.items()
    if rule not in {"BR-DEX-02", "BR-DEX-03", "BR-DEX-10", "BR-DEX-11", "BR-DEX-12", "BR-DEX-13", "BR-DEX-14"}
}
CN_MUTATIONS |= {
    "PEPPOL-EN16931-R110": [("text", f"{_CN}/cac:InvoicePeriod/cbc:StartDate", "2016-02-01"),
                            ("append", f"{_CN}/cac:CreditNoteLine[1]",
                             "<cac:InvoicePeriod><cbc:StartDate>2016-01-15</cbc:StartDate></cac:InvoicePeriod>")],
    "PEPPOL-EN16931-R111": [("text", f"{_CN}/cac:InvoicePeriod/cbc:EndDate", "2016-11-30"),
                            ("append", f"{_CN}/cac:CreditNoteLine[1]",
                             "<cac:InvoicePeriod><cbc:EndDate>2016-12-15</cbc:EndDate></cac:InvoicePeriod>")],
    "BR-DE-16": [("remove", f"{_CN}/cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme"),
                 ("remove", f"{_CN}/cac:TaxRepresentativeParty")],
}

MUTATIONS = {"ubl": UBL_MUTATIONS, "ubl-cn": CN_MUTATIONS, "cii": CII_MUTATIONS}


def mutation_cases() -> list[tuple[str, str]]:
    """(kind, rule) for every mutation; kind is "ubl" (Invoice), "ubl-cn" (CreditNote) or "cii"."""
    return [(kind, rule) for kind in ("ubl", "ubl-cn", "cii") for rule in MUTATIONS[kind]]


# ---------------------------------------------------------------- random mutations (deterministic)

FUZZ_VALUES = ["", " ", "0", "-1", "58", "59", "30", "48", "49", "54", "384", "380", "71", "VAT", "S", "E", "O",
               "false", "true", "EUR", "USD", "HUF", "#SKONTO#TAGE=7#PROZENT=2.00#\n", "#SKONTO#TAGE=7#PROZENT=2.00#",
               "#SKONTO#TAGE=7#PROZENT=2#\n", "a@b.de", "a@@b", "12", "DE75512108001245126199", "DE00123",
               "2016-01-01", "2099-12-31", "20160101", "XR01", "0088", "9999", "SEPA", "application/xml", "text/plain",
               "x.pdf", "1.005", "www.example.org", "https://example.org/a", "EM", "VA", "FC", "0204", "XR02", "130",
               "916", "50", "H87", "XPP", "100.00", "0.01"]
FUZZ_ATTRS = ["schemeID", "currencyID", "unitCode", "mimeCode", "filename", "listID"]


def random_mutations(seed: int, count: int):
    """Yield (label, xml bytes, syntax): corpus instances with 1-3 random edits (remove an element, duplicate
    it, set a text or an attribute from FUZZ_VALUES)."""
    import random

    rng = random.Random(seed)
    files = corpus_files()
    for i in range(count):
        path = rng.choice(files)
        root = parse(path.read_bytes())
        syntax = syntax_of(root)
        edits = []
        if rng.random() < 0.25:
            try:
                apply_ops(root, [("ext",)])
                edits.append("extension")
            except LookupError:
                pass
        for _ in range(rng.randint(1, 3)):
            elements = [e for e in root.iter() if isinstance(e.tag, str)]
            el = rng.choice(elements)
            op = rng.random()
            if op < 0.3 and el.getparent() is not None:
                el.getparent().remove(el)
                edits.append(f"remove {etree.QName(el).localname}")
            elif op < 0.45 and el.getparent() is not None:
                el.addnext(copy.deepcopy(el))
                edits.append(f"copy {etree.QName(el).localname}")
            elif op < 0.8:
                el.text = rng.choice(FUZZ_VALUES)
                edits.append(f"text {etree.QName(el).localname}")
            else:
                attr = rng.choice(FUZZ_ATTRS)
                el.set(attr, rng.choice(FUZZ_VALUES))
                edits.append(f"@{attr} {etree.QName(el).localname}")
        yield f"{path.name} #{i}: {', '.join(edits)}", etree.tostring(root), syntax
