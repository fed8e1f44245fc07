"""The native XRechnung rules for UN/CEFACT CII: the PEPPOL-EN16931 rules KoSIT includes (patterns
M27-M29), BR-DE-*/BR-TMP-* (M30) and the extension rules BR-DEX-* (M31), registered in `CII_RULES` in
the order of the compiled XSL."""

from __future__ import annotations

from decimal import Decimal

from .base import (
    CEF_EAS_EXT,
    EXT_MIME,
    ISO_6523_ICD_EXT,
    SUPPORTED_TYPES,
    SUPPORTED_VAT,
    XR_CIUS_ID,
    XR_EXTENSION_ID,
    Ctx,
    Rule,
    _cmp_num,
    _dec,
    _email_ok,
    _first,
    _iban_ok,
    _phone_ok,
    _r040,
    _rule,
    _scheme_in,
    _skonto_ok,
    _url_ok,
    nsp,
    sv,
)

CII_RULES: list[Rule] = []
C = CII_RULES
_HS = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_HA = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"


def _is_ext_cii(c: Ctx) -> bool:
    path = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    return any((e.text or "") == XR_EXTENSION_ID for e in c.x(c.root, path))


@_rule(C, "M27", 1013, "//rsm:ExchangedDocumentContext")
def _c_r001():
    return [("PEPPOL-EN16931-R001", lambda c, e: c.has(e, "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"))]


@_rule(C, "M27", 1012, "//ram:ApplicableHeaderTradeSettlement")
def _c_settlement():
    def currencies(c):
        return ([sv(n) for n in c.x(c.root, f"{_HS}/ram:InvoiceCurrencyCode")],
                [sv(n) for n in c.x(c.root, f"{_HS}/ram:TaxCurrencyCode")])

    def amounts(c, e, pred):
        return [n for n in c.x(e, "ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:TaxTotalAmount")
                if n.get("currencyID") is not None and pred(n.get("currencyID"))]

    def r005(c, e):
        if not c.has(e, "ram:TaxCurrencyCode"):
            return True
        a = c.x(e, "ram:TaxCurrencyCode")[0].text or ""
        b = c.x(e, "ram:InvoiceCurrencyCode")
        return nsp(a) != nsp((b[0].text or "") if b else "")

    def r053(c, e):
        doc, _ = currencies(c)
        return len(amounts(c, e, lambda cur: cur in doc)) <= 1

    def r054(c, e):
        doc, _ = currencies(c)
        return len(amounts(c, e, lambda cur: any(cur != d for d in doc))) == (
            1 if c.has(e, "ram:TaxCurrencyCode") else 0)

    def r055(c, e):
        doc, tax = currencies(c)
        if not (c.has(c.root, f"{_HS}/ram:TaxCurrencyCode") and amounts(c, e, lambda cur: cur in doc)):
            return True
        a = amounts(c, e, lambda cur: cur in tax)
        b = amounts(c, e, lambda cur: cur in doc)
        return ((_cmp_num(a, lambda v: v < 0) and _cmp_num(b, lambda v: v < 0))
                or (_cmp_num(a, lambda v: v >= 0) and _cmp_num(b, lambda v: v >= 0)))
    return [("PEPPOL-EN16931-R005", r005), ("PEPPOL-EN16931-R053", r053),
            ("PEPPOL-EN16931-R054", r054), ("PEPPOL-EN16931-R055", r055)]


@_rule(C, "M27", 1011, "//ram:BuyerTradeParty")
def _c_r010():
    return [("PEPPOL-EN16931-R010", lambda c, e: c.has(e, "ram:URIUniversalCommunication/ram:URIID"))]


@_rule(C, "M27", 1010, "//ram:SellerTradeParty")
def _c_r020():
    return [("PEPPOL-EN16931-R020", lambda c, e: c.has(e, "ram:URIUniversalCommunication/ram:URIID"))]


@_rule(C, "M27", 1009, "//ram:SpecifiedTradeAllowanceCharge[ram:CalculationPercent and not(ram:BasisAmount)]")
def _c_r041():
    return [("PEPPOL-EN16931-R041", lambda c, e: False)]


@_rule(C, "M27", 1008, "//ram:SpecifiedTradeAllowanceCharge[not(ram:CalculationPercent) and ram:BasisAmount]")
def _c_r042():
    return [("PEPPOL-EN16931-R042", lambda c, e: False)]


def _indicator_ok(c, e) -> bool:
    nodes = c.x(e, "ram:ChargeIndicator/udt:Indicator")
    return nsp((nodes[0].text or "") if nodes else "") in ("true", "false")


@_rule(C, "M27", 1007, "//ram:SpecifiedTradeAllowanceCharge")
def _c_r040():
    return [
        ("PEPPOL-EN16931-R040", _r040("ram:ActualAmount", "ram:BasisAmount", "ram:CalculationPercent",
                                       f"{_HS}/ram:InvoiceCurrencyCode")),
        ("PEPPOL-EN16931-R043-1", _indicator_ok),
    ]


@_rule(C, "M27", 1006, "//ram:AppliedTradeAllowanceCharge")
def _c_r043_2():
    return [("PEPPOL-EN16931-R043-2", _indicator_ok)]


@_rule(C, "M27", 1005, "//ram:SpecifiedTradeSettlementPaymentMeans[count(ram:TypeCode) <= 1][normalize-space(ram:TypeCode) = '49' or "
                       "normalize-space(ram:TypeCode) = '59']")
def _c_r061():
    return [("PEPPOL-EN16931-R061", lambda c, e: c.has(e, "../ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID"))]


def _str_cmp(c, e, other_path, op):
    mine = [sv(n) for n in c.x(e, "udt:DateTimeString")]
    others = [sv(n) for n in c.x(e, other_path)]
    return any(op(a, b) for a in mine for b in others)


_LINE_PERIOD = ("//rsm:SupplyChainTradeTransaction[ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod/ram:{0}]"
                "/ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedLineTradeSettlement/ram:BillingSpecifiedPeriod/ram:{0}")


@_rule(C, "M27", 1004, _LINE_PERIOD.format("StartDateTime"))
def _c_r110():
    return [("PEPPOL-EN16931-R110", lambda c, e: _str_cmp(
        c, e, "../../../../ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod/ram:StartDateTime"
              "/udt:DateTimeString", lambda a, b: a >= b))]


@_rule(C, "M27", 1003, _LINE_PERIOD.format("EndDateTime"))
def _c_r111():
    return [("PEPPOL-EN16931-R111", lambda c, e: _str_cmp(
        c, e, "../../../../ram:ApplicableHeaderTradeSettlement/ram:BillingSpecifiedPeriod/ram:EndDateTime"
              "/udt:DateTimeString", lambda a, b: a <= b))]


@_rule(C, "M27", 1002, "//ram:IncludedSupplyChainTradeLineItem")
def _c_r101():
    return [("PEPPOL-EN16931-R101", lambda c, e: not c.has(e, "ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument")
             or any(sv(n) == "130" for n in c.x(e, "ram:SpecifiedLineTradeSettlement/ram:AdditionalReferencedDocument/ram:TypeCode")))]


@_rule(C, "M27", 1001, "//ram:NetPriceProductTradePrice | //ram:GrossPriceProductTradePrice")
def _c_r121():
    def test(c, e):
        base = c.x(e, "ram:BasisQuantity")
        return not base or (_dec(base[0]) or Decimal(0)) > 0
    return [("PEPPOL-EN16931-R121", test)]


@_rule(C, "M27", 1000, "//ram:NetPriceProductTradePrice/ram:BasisQuantity[@unitCode] | "
                       "//ram:GrossPriceProductTradePrice/ram:BasisQuantity[@unitCode]")
def _c_r130():
    return [("PEPPOL-EN16931-R130", lambda c, e: any(
        q == e.get("unitCode") for q in c.x(e, "../../../ram:SpecifiedLineTradeDelivery/ram:BilledQuantity/@unitCode")))]


@_rule(C, "M28", 1000, "//*[not(name() = 'ram:ApplicableHeaderTradeDelivery') and not(*) and not(normalize-space())]")
def _c_r008():
    return [("PEPPOL-EN16931-R008", lambda c, e: False)]


@_rule(C, "M29", 1000, "//rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
                       "/ram:SpecifiedLineTradeAgreement/ram:GrossPriceProductTradePrice")
def _c_gross():
    def r046(c, e):
        if not c.has(e, "ram:ChargeAmount"):
            return True
        net = c.x(e, "../ram:NetPriceProductTradePrice/ram:ChargeAmount")
        if len(net) != 1:
            return False
        allowance = c.x(e, "ram:AppliedTradeAllowanceCharge/ram:ActualAmount[1]")
        a = (_dec(allowance[0]) or Decimal(0)) if allowance else Decimal(0)
        n, g = _dec(net[0]), _dec(c.x(e, "ram:ChargeAmount")[0])
        return n is not None and g is not None and n == g - a
    return [
        ("PEPPOL-EN16931-R044", lambda c, e: not c.has(e, "ram:AppliedTradeAllowanceCharge/ram:ActualAmount")
         or any(sv(n) == "false" for n in c.x(e, "ram:AppliedTradeAllowanceCharge/ram:ChargeIndicator/udt:Indicator"))),
        ("PEPPOL-EN16931-R046", r046),
    ]


@_rule(C, "M30", 1011, "/rsm:CrossIndustryInvoice")
def _c_root():
    bt89 = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID"
    bt90 = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:CreditorReferenceID"
    bt91 = ("rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeSettlementPaymentMeans"
            "/ram:PayerPartyDebtorFinancialAccount/ram:IBANID")

    def de30(c, e):
        a, b, d = c.has(e, bt89), c.has(e, bt90), c.has(e, bt91)
        return ((a or d) and b) or not (a or b or d)

    def de31(c, e):
        a, b, d = c.has(e, bt89), c.has(e, bt90), c.has(e, bt91)
        return ((a or b) and d) or not (a or b or d)

    def de16(c, e):
        line_tax = "rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax"
        a = (any(sv(n) == "VAT" for n in c.x(e, f"{line_tax}/ram:TypeCode"))
             and any(sv(n) in SUPPORTED_VAT for n in c.x(e, f"{line_tax}/ram:CategoryCode")))
        ctt = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:SpecifiedTradeAllowanceCharge/ram:CategoryTradeTax"
        b = (any(sv(n) == "VAT" for n in c.x(e, ctt))
             and any(sv(n) in SUPPORTED_VAT for n in c.x(e, f"{ctt}/ram:CategoryCode")))
        if not (a or b):
            return True
        seller = "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement/ram:SellerTradeParty"
        ids = [n for n in c.x(e, f"{seller}/ram:SpecifiedTaxRegistration/ram:ID")
               if nsp(n.get("schemeID") or "") in ("VA", "FC") and nsp(n)]
        return bool(ids) or c.has(e, "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
                                     "/ram:SellerTaxRepresentativeTradeParty")

    def de22(c, e):
        for ard in c.x(e, "//ram:AdditionalReferencedDocument"):
            mine = set(c.x(ard, "ram:AttachmentBinaryObject/@filename"))
            before = set(c.x(ard, "preceding-sibling::ram:AdditionalReferencedDocument/ram:AttachmentBinaryObject/@filename"))
            if mine & before:
                return False
        return True

    type_code = "rsm:ExchangedDocument/ram:TypeCode"
    return [
        ("BR-DE-30", de30),
        ("BR-DE-31", de31),
        ("BR-DE-1", lambda c, e: c.has(e, "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
                                          "/ram:SpecifiedTradeSettlementPaymentMeans")),
        ("BR-DE-15", lambda c, e: c.text(e, "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"
                                            "/ram:BuyerReference")),
        ("BR-DE-16", de16),
        ("BR-DE-17", lambda c, e: nsp(_first(c, e, type_code)) in SUPPORTED_TYPES),
        ("BR-DE-18", lambda c, e: _skonto_ok(c.x(e, "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
                                                    "/ram:SpecifiedTradePaymentTerms/ram:Description[1]"))),
        ("BR-DE-22", de22),
        ("BR-DE-26", lambda c, e: nsp(_first(c, e, type_code)) != "384" or c.has(
            e, "rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement/ram:InvoiceReferencedDocument")),
    ]


@_rule(C, "M30", 1010, "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext")
def _c_de21():
    return [("BR-DE-21", lambda c, e: any(sv(n) in (XR_CIUS_ID, XR_EXTENSION_ID) for n in c.x(
        e, "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID")))]


@_rule(C, "M30", 1009, f"{_HA}/ram:SellerTradeParty")
def _c_de2():
    return [("BR-DE-2", lambda c, e: c.has(e, "ram:DefinedTradeContact"))]


@_rule(C, "M30", 1008, f"{_HA}/ram:SellerTradeParty/ram:PostalTradeAddress")
def _c_seller_addr():
    return [("BR-DE-3", lambda c, e: c.text(e, "ram:CityName")),
            ("BR-DE-4", lambda c, e: c.text(e, "ram:PostcodeCode"))]


@_rule(C, "M30", 1007, f"{_HA}/ram:SellerTradeParty/ram:DefinedTradeContact")
def _c_seller_contact():
    return [("BR-DE-5", lambda c, e: c.text(e, "ram:PersonName | ram:DepartmentName")),
            ("BR-DE-6", lambda c, e: c.text(e, "ram:TelephoneUniversalCommunication/ram:CompleteNumber")),
            ("BR-DE-7", lambda c, e: c.text(e, "ram:EmailURIUniversalCommunication/ram:URIID")),
            ("BR-DE-27", lambda c, e: _phone_ok(c.x(e, "ram:TelephoneUniversalCommunication/ram:CompleteNumber"))),
            ("BR-DE-28", lambda c, e: _email_ok(c.x(e, "ram:EmailURIUniversalCommunication/ram:URIID")))]


@_rule(C, "M30", 1006, f"{_HA}/ram:BuyerTradeParty/ram:PostalTradeAddress")
def _c_buyer_addr():
    return [("BR-DE-8", lambda c, e: c.text(e, "ram:CityName")),
            ("BR-DE-9", lambda c, e: c.text(e, "ram:PostcodeCode"))]


@_rule(C, "M30", 1005, f"{_HA}/ram:AdditionalReferencedDocument[ram:TypeCode = '916']")
def _c_tmp2():
    return [("BR-TMP-2", lambda c, e: not c.has(e, "ram:URIID") or _url_ok(c.x(e, "ram:URIID")))]


@_rule(C, "M30", 1004, "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeDelivery"
                       "/ram:ShipToTradeParty/ram:PostalTradeAddress")
def _c_delivery_addr():
    return [("BR-DE-10", lambda c, e: c.text(e, "ram:CityName")),
            ("BR-DE-11", lambda c, e: c.text(e, "ram:PostcodeCode"))]


def _pm_ctx_c(codes: tuple[str, ...]) -> str:
    cond = " or ".join(f"normalize-space(ram:TypeCode) = '{code}'" for code in codes)
    return f"{_HS}/ram:SpecifiedTradeSettlementPaymentMeans[count(ram:TypeCode) <= 1][{cond}]"


def _c_debit(c, e) -> bool:
    return (c.has(c.root, f"{_HS}/ram:SpecifiedTradePaymentTerms/ram:DirectDebitMandateID")
            or c.has(c.root, f"{_HS}/ram:CreditorReferenceID")
            or c.has(e, "ram:PayerPartyDebtorFinancialAccount/ram:IBANID"))


@_rule(C, "M30", 1003, _pm_ctx_c(("30", "58")))
def _c_pm_transfer():
    return [
        ("BR-DE-19", lambda c, e: nsp(_first(c, e, "ram:TypeCode")) != "58"
         or _iban_ok(c.x(e, "ram:PayeePartyCreditorFinancialAccount/ram:IBANID"))),
        ("BR-DE-23-a", lambda c, e: c.has(e, "ram:PayeePartyCreditorFinancialAccount")),
        ("BR-DE-23-b", lambda c, e: not c.has(e, "ram:ApplicableTradeSettlementFinancialCard") and not _c_debit(c, e)),
    ]


@_rule(C, "M30", 1002, _pm_ctx_c(("48", "54", "55")))
def _c_pm_card():
    return [
        ("BR-DE-24-a", lambda c, e: c.has(e, "ram:ApplicableTradeSettlementFinancialCard")),
        ("BR-DE-24-b", lambda c, e: not c.has(e, "ram:PayeePartyCreditorFinancialAccount") and not _c_debit(c, e)),
    ]


@_rule(C, "M30", 1001, _pm_ctx_c(("59",)))
def _c_pm_debit():
    return [
        ("BR-DE-20", lambda c, e: nsp(_first(c, e, "ram:TypeCode")) != "59"
         or _iban_ok(c.x(e, "ram:PayerPartyDebtorFinancialAccount/ram:IBANID"))),
        ("BR-DE-25-a", _c_debit),
        ("BR-DE-25-b", lambda c, e: not c.has(e, "ram:PayeePartyCreditorFinancialAccount")
         and not c.has(e, "ram:ApplicableTradeSettlementFinancialCard")),
    ]


@_rule(C, "M30", 1000, f"{_HS}/ram:ApplicableTradeTax")
def _c_de14():
    return [("BR-DE-14", lambda c, e: c.text(e, "ram:RateApplicablePercent"))]


@_rule(C, "M31", 1006, "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:IncludedSupplyChainTradeLineItem"
                       "/ram:AssociatedDocumentLineDocument", when=_is_ext_cii)
def _c_dex15():
    return [("BR-DEX-15", lambda c, e: not c.has(e, "//ram:ParentLineID"))]


@_rule(C, "M31", 1005, "//ram:GlobalID[@schemeID][not(ancestor::ram:SpecifiedTradeProduct) and "
                       "not(ancestor::ram:ShipToTradeParty)]", when=_is_ext_cii)
def _c_dex04():
    return [("BR-DEX-04", lambda c, e: _scheme_in(ISO_6523_ICD_EXT, e.get("schemeID")))]


@_rule(C, "M31", 1004, "//ram:ID[@schemeID][not(ancestor::ram:SpecifiedTaxRegistration)]", when=_is_ext_cii)
def _c_dex05():
    return [("BR-DEX-05", lambda c, e: _scheme_in(ISO_6523_ICD_EXT, e.get("schemeID")))]


@_rule(C, "M31", 1003, "//ram:SpecifiedTradeProduct/ram:GlobalID[@schemeID]", when=_is_ext_cii)
def _c_dex06():
    return [("BR-DEX-06", lambda c, e: _scheme_in(ISO_6523_ICD_EXT, e.get("schemeID")))]


@_rule(C, "M31", 1002, "//ram:URIUniversalCommunication/ram:URIID[@schemeID]", when=_is_ext_cii)
def _c_dex07():
    return [("BR-DEX-07", lambda c, e: _scheme_in(CEF_EAS_EXT, e.get("schemeID")))]


@_rule(C, "M31", 1001, "//ram:ApplicableHeaderTradeDelivery/ram:ShipToTradeParty/ram:GlobalID[@schemeID]",
       when=_is_ext_cii)
def _c_dex08():
    return [("BR-DEX-08", lambda c, e: _scheme_in(ISO_6523_ICD_EXT, e.get("schemeID")))]


@_rule(C, "M31", 1000, "//ram:AttachmentBinaryObject", when=_is_ext_cii)
def _c_dex01():
    return [("BR-DEX-01", lambda c, e: e.get("mimeCode") in EXT_MIME)]
