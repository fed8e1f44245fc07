"""The native XRechnung rules for UBL (Invoice, CreditNote): the PEPPOL-EN16931 rules KoSIT includes
(patterns M36, M37), BR-DE-*/BR-TMP-* (M38) and the extension rules BR-DEX-* (M39), registered in
`UBL_RULES` in the order of the compiled XSL."""

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
    _dec_or,
    _email_ok,
    _first,
    _has_text,
    _iban_ok,
    _in_slack,
    _phone_ok,
    _r040,
    _round2,
    _rule,
    _scheme_in,
    _skonto_ok,
    _slack,
    _sum_rounded,
    _url_ok,
    nsp,
    sv,
)

UBL_RULES: list[Rule] = []
U = UBL_RULES
_ROOT_U = "/ubl:Invoice | /cn:CreditNote"


def _is_ext_ubl(c: Ctx) -> bool:
    return any((e.text or "") == XR_EXTENSION_ID for e in c.x(c.root, "/ubl:Invoice/cbc:CustomizationID | "
                                                             "/cn:CreditNote/cbc:CustomizationID"))


@_rule(U, "M36", 1000, "//*[not(*) and not(normalize-space())]")
def _u_r008():
    return [("PEPPOL-EN16931-R008", lambda c, e: False)]


@_rule(U, "M37", 1012, "//ubl:Invoice | //cn:CreditNote")
def _u_root_peppol():
    def r055(c, e):
        if not c.has(e, "cbc:TaxCurrencyCode"):
            return True
        tcc = nsp(c.x(e, "cbc:TaxCurrencyCode")[0])
        dcc = nsp(c.x(e, "cbc:DocumentCurrencyCode")[0]) if c.has(e, "cbc:DocumentCurrencyCode") else ""
        a = [n for n in c.x(e, "cac:TaxTotal/cbc:TaxAmount") if n.get("currencyID") == tcc]
        b = [n for n in c.x(e, "cac:TaxTotal/cbc:TaxAmount") if n.get("currencyID") == dcc]
        le0 = _cmp_num(a, lambda v: v <= 0) and _cmp_num(b, lambda v: v <= 0)
        ge0 = _cmp_num(a, lambda v: v >= 0) and _cmp_num(b, lambda v: v >= 0)
        return le0 or ge0
    return [
        ("PEPPOL-EN16931-R001", lambda c, e: c.has(e, "cbc:ProfileID")),
        ("PEPPOL-EN16931-R053", lambda c, e: len(c.x(e, "cac:TaxTotal[cac:TaxSubtotal]")) == 1),
        ("PEPPOL-EN16931-R054", lambda c, e: len(c.x(e, "cac:TaxTotal[not(cac:TaxSubtotal)]"))
         == (1 if c.has(e, "cbc:TaxCurrencyCode") else 0)),
        ("PEPPOL-EN16931-R055", r055),
    ]


@_rule(U, "M37", 1011, "//cbc:TaxCurrencyCode")
def _u_r005():
    def test(c, e):
        other = c.x(e, "../cbc:DocumentCurrencyCode")
        return nsp(e.text or "") != nsp((other[0].text or "") if other else "")
    return [("PEPPOL-EN16931-R005", test)]


@_rule(U, "M37", 1010, "//cac:AccountingCustomerParty/cac:Party")
def _u_r010():
    return [("PEPPOL-EN16931-R010", lambda c, e: c.has(e, "cbc:EndpointID"))]


@_rule(U, "M37", 1009, "//cac:AccountingSupplierParty/cac:Party")
def _u_r020():
    return [("PEPPOL-EN16931-R020", lambda c, e: c.has(e, "cbc:EndpointID"))]


_AC_U = ("//ubl:Invoice/cac:AllowanceCharge{p} | //ubl:Invoice/cac:InvoiceLine/cac:AllowanceCharge{p} | "
         "//cn:CreditNote/cac:AllowanceCharge{p} | //cn:CreditNote/cac:CreditNoteLine/cac:AllowanceCharge{p}")


@_rule(U, "M37", 1008, _AC_U.format(p="[cbc:MultiplierFactorNumeric and not(cbc:BaseAmount)]"))
def _u_r041():
    return [("PEPPOL-EN16931-R041", lambda c, e: False)]


@_rule(U, "M37", 1007, _AC_U.format(p="[not(cbc:MultiplierFactorNumeric) and cbc:BaseAmount]"))
def _u_r042():
    return [("PEPPOL-EN16931-R042", lambda c, e: False)]


@_rule(U, "M37", 1006, _AC_U.format(p=""))
def _u_r040():
    return [
        ("PEPPOL-EN16931-R040", _r040("cbc:Amount", "cbc:BaseAmount", "cbc:MultiplierFactorNumeric",
                                       "/*/cbc:DocumentCurrencyCode")),
        ("PEPPOL-EN16931-R043", lambda c, e: nsp(sv(c.x(e, "cbc:ChargeIndicator")[0].text if c.has(
            e, "cbc:ChargeIndicator") else "")) in ("true", "false")),
    ]


# In XSLT a dynamic error in a pattern predicate (normalize-space() of two codes) means "no match":
# hence the count(...) <= 1 in the contexts below.
@_rule(U, "M37", 1005, "//cac:PaymentMeans[count(cbc:PaymentMeansCode) <= 1][normalize-space(cbc:PaymentMeansCode) = '49' or "
                       "normalize-space(cbc:PaymentMeansCode) = '59']")
def _u_r061():
    return [("PEPPOL-EN16931-R061", lambda c, e: c.has(e, "cac:PaymentMandate/cbc:ID"))]


def _date_cmp(c, e, other_path, op):
    from datetime import date
    try:
        mine = date.fromisoformat((e.text or "").strip())
        others = [date.fromisoformat(sv(n).strip()) for n in c.x(e, other_path)]
    except ValueError:
        return False
    return any(op(mine, o) for o in others)


@_rule(U, "M37", 1004, "//ubl:Invoice[cac:InvoicePeriod/cbc:StartDate]/cac:InvoiceLine/cac:InvoicePeriod/cbc:StartDate"
                       " | //cn:CreditNote[cac:InvoicePeriod/cbc:StartDate]/cac:CreditNoteLine/cac:InvoicePeriod"
                       "/cbc:StartDate")
def _u_r110():
    return [("PEPPOL-EN16931-R110",
             lambda c, e: _date_cmp(c, e, "../../../cac:InvoicePeriod/cbc:StartDate", lambda a, b: a >= b))]


@_rule(U, "M37", 1003, "//ubl:Invoice[cac:InvoicePeriod/cbc:EndDate]/cac:InvoiceLine/cac:InvoicePeriod/cbc:EndDate"
                       " | //cn:CreditNote[cac:InvoicePeriod/cbc:EndDate]/cac:CreditNoteLine/cac:InvoicePeriod"
                       "/cbc:EndDate")
def _u_r111():
    return [("PEPPOL-EN16931-R111",
             lambda c, e: _date_cmp(c, e, "../../../cac:InvoicePeriod/cbc:EndDate", lambda a, b: a <= b))]


@_rule(U, "M37", 1002, "//cac:InvoiceLine | //cac:CreditNoteLine")
def _u_line():
    def r120(c, e):
        line_amount = _dec_or(c, e, "cbc:LineExtensionAmount")
        qpath = "cbc:InvoicedQuantity" if c.has(c.root, "/ubl:Invoice") else "cbc:CreditedQuantity"
        quantity = _dec_or(c, e, qpath, Decimal(1))
        price = _dec_or(c, e, "cac:Price/cbc:PriceAmount")
        base = _dec_or(c, e, "cac:Price/cbc:BaseQuantity", Decimal(1))
        if base == 0:
            base = Decimal(1)
        allowances = _sum_rounded(c, e, "cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator) = 'false']/cbc:Amount")
        charges = _sum_rounded(c, e, "cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator) = 'true']/cbc:Amount")
        return _in_slack(line_amount, quantity * (price / base) + charges - allowances,
                         _slack(c, "/*/cbc:DocumentCurrencyCode"))

    def r121(c, e):
        base = c.x(e, "cac:Price/cbc:BaseQuantity")
        return not base or (_dec(base[0]) or Decimal(0)) > 0
    return [
        ("PEPPOL-EN16931-R120", r120),
        ("PEPPOL-EN16931-R121", r121),
        ("PEPPOL-EN16931-R101", lambda c, e: not c.has(e, "cac:DocumentReference")
         or any(sv(n) == "130" for n in c.x(e, "cac:DocumentReference/cbc:DocumentTypeCode"))),
    ]


@_rule(U, "M37", 1001, "//cac:Price/cac:AllowanceCharge")
def _u_price_ac():
    def r046(c, e):
        if not c.has(e, "cbc:BaseAmount"):
            return True
        price = _dec_or(c, e, "../cbc:PriceAmount", None)
        base = _dec_or(c, e, "cbc:BaseAmount", None)
        amount = _dec_or(c, e, "cbc:Amount", None)
        return None not in (price, base, amount) and price == base - amount
    return [
        ("PEPPOL-EN16931-R044", lambda c, e: nsp(c.x(e, "cbc:ChargeIndicator")[0]
                                                  if c.has(e, "cbc:ChargeIndicator") else "") == "false"),
        ("PEPPOL-EN16931-R046", r046),
    ]


@_rule(U, "M37", 1000, "//cac:Price/cbc:BaseQuantity[@unitCode]")
def _u_r130():
    def test(c, e):
        if not c.has(e, "../../cbc:InvoicedQuantity | ../../cbc:CreditedQuantity"):
            return True
        qpath = "../../cbc:InvoicedQuantity" if c.has(c.root, "/ubl:Invoice") else "../../cbc:CreditedQuantity"
        return any(q.get("unitCode") == e.get("unitCode") for q in c.x(e, qpath))
    return [("PEPPOL-EN16931-R130", test)]


@_rule(U, "M38", 1010, _ROOT_U)
def _u_root():
    def de16(c, e):
        ac = "cac:AllowanceCharge/cac:TaxCategory/cbc:ID[ancestor::cac:AllowanceCharge/cbc:ChargeIndicator = '{}']"
        codes = [sv(n) for n in c.x(e, ac.format("false")) + c.x(e, ac.format("true"))
                 + c.x(e, "(cac:InvoiceLine | cac:CreditNoteLine)/cac:Item/cac:ClassifiedTaxCategory/cbc:ID")]
        if not any(code in SUPPORTED_VAT for code in codes):
            return True
        return c.has(e, "cac:TaxRepresentativeParty") or c.text(
            e, "cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID")

    def de22(c, e):
        seen: set[str] = set()
        for adr in c.x(e, "cac:AdditionalDocumentReference"):
            names = [a for a in c.x(adr, "cac:Attachment/cbc:EmbeddedDocumentBinaryObject/@filename")]
            if any(n in seen for n in names):
                return False
            seen.update(names)
        return True

    return [
        ("BR-DE-1", lambda c, e: c.has(e, "cac:PaymentMeans")),
        ("BR-DE-15", lambda c, e: c.text(e, "cbc:BuyerReference")),
        ("BR-DE-16", de16),
        ("BR-DE-17", lambda c, e: nsp(_first(c, e, "cbc:InvoiceTypeCode")) in SUPPORTED_TYPES
         or nsp(_first(c, e, "cbc:CreditNoteTypeCode")) in SUPPORTED_TYPES),
        ("BR-DE-18", lambda c, e: _skonto_ok(c.x(e, "cac:PaymentTerms/cbc:Note[1]"))),
        ("BR-DE-21", lambda c, e: any(sv(n) in (XR_CIUS_ID, XR_EXTENSION_ID) for n in c.x(e, "cbc:CustomizationID"))),
        ("BR-DE-22", de22),
        ("BR-DE-26", lambda c, e: not (nsp(_first(c, e, "cbc:InvoiceTypeCode")) == "384"
                                       or nsp(_first(c, e, "cbc:CreditNoteTypeCode")) == "384")
         or c.has(e, "cac:BillingReference/cac:InvoiceDocumentReference")),
        ("BR-DE-30", lambda c, e: not c.has(e, "cac:PaymentMeans/cac:PaymentMandate") or c.has(
            e, "cac:AccountingSupplierParty/cac:Party/cac:PartyIdentification/cbc:ID[@schemeID='SEPA'] | "
               "cac:PayeeParty/cac:PartyIdentification/cbc:ID[@schemeID='SEPA']")),
        ("BR-DE-31", lambda c, e: not c.has(e, "cac:PaymentMeans/cac:PaymentMandate")
         or c.has(e, "cac:PaymentMeans/cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID")),
    ]


@_rule(U, "M38", 1009, "/ubl:Invoice/cac:AdditionalDocumentReference/cac:Attachment/cac:ExternalReference | "
                       "/cn:CreditNote/cac:AdditionalDocumentReference/cac:Attachment/cac:ExternalReference")
def _u_tmp2():
    return [("BR-TMP-2", lambda c, e: _url_ok(c.x(e, "cbc:URI")))]


@_rule(U, "M38", 1008, "/ubl:Invoice/cac:AccountingSupplierParty | /cn:CreditNote/cac:AccountingSupplierParty")
def _u_de2():
    return [("BR-DE-2", lambda c, e: c.has(e, "cac:Party/cac:Contact"))]


@_rule(U, "M38", 1007, "/ubl:Invoice/cac:AccountingSupplierParty/cac:Party/cac:PostalAddress | "
                       "/cn:CreditNote/cac:AccountingSupplierParty/cac:Party/cac:PostalAddress")
def _u_seller_addr():
    return [("BR-DE-3", lambda c, e: c.text(e, "cbc:CityName")),
            ("BR-DE-4", lambda c, e: c.text(e, "cbc:PostalZone"))]


@_rule(U, "M38", 1006, "/ubl:Invoice/cac:AccountingSupplierParty/cac:Party/cac:Contact | "
                       "/cn:CreditNote/cac:AccountingSupplierParty/cac:Party/cac:Contact")
def _u_seller_contact():
    return [("BR-DE-5", lambda c, e: c.text(e, "cbc:Name")),
            ("BR-DE-6", lambda c, e: c.text(e, "cbc:Telephone")),
            ("BR-DE-7", lambda c, e: c.text(e, "cbc:ElectronicMail")),
            ("BR-DE-27", lambda c, e: _phone_ok(c.x(e, "cbc:Telephone"))),
            ("BR-DE-28", lambda c, e: _email_ok(c.x(e, "cbc:ElectronicMail")))]


@_rule(U, "M38", 1005, "/ubl:Invoice/cac:AccountingCustomerParty/cac:Party/cac:PostalAddress | "
                       "/cn:CreditNote/cac:AccountingCustomerParty/cac:Party/cac:PostalAddress")
def _u_buyer_addr():
    return [("BR-DE-8", lambda c, e: c.text(e, "cbc:CityName")),
            ("BR-DE-9", lambda c, e: c.text(e, "cbc:PostalZone"))]


@_rule(U, "M38", 1004, "/ubl:Invoice/cac:Delivery/cac:DeliveryLocation/cac:Address | "
                       "/cn:CreditNote/cac:Delivery/cac:DeliveryLocation/cac:Address")
def _u_delivery_addr():
    return [("BR-DE-10", lambda c, e: c.text(e, "cbc:CityName")),
            ("BR-DE-11", lambda c, e: c.text(e, "cbc:PostalZone"))]


def _pm_ctx_u(codes: tuple[str, ...]) -> str:
    cond = " or ".join(f"normalize-space(cbc:PaymentMeansCode) = '{code}'" for code in codes)
    cond = f"count(cbc:PaymentMeansCode) <= 1][{cond}"
    return f"/ubl:Invoice/cac:PaymentMeans[{cond}] | /cn:CreditNote/cac:PaymentMeans[{cond}]"


@_rule(U, "M38", 1003, _pm_ctx_u(("30", "58")))
def _u_pm_transfer():
    return [
        ("BR-DE-19", lambda c, e: nsp(_first(c, e, "cbc:PaymentMeansCode")) != "58"
         or _iban_ok(c.x(e, "cac:PayeeFinancialAccount/cbc:ID"))),
        ("BR-DE-23-a", lambda c, e: c.has(e, "cac:PayeeFinancialAccount")),
        ("BR-DE-23-b", lambda c, e: not c.has(e, "cac:CardAccount") and not c.has(e, "cac:PaymentMandate")),
    ]


@_rule(U, "M38", 1002, _pm_ctx_u(("48", "54", "55")))
def _u_pm_card():
    return [
        ("BR-DE-24-a", lambda c, e: c.has(e, "cac:CardAccount")),
        ("BR-DE-24-b", lambda c, e: not c.has(e, "cac:PayeeFinancialAccount") and not c.has(e, "cac:PaymentMandate")),
    ]


@_rule(U, "M38", 1001, _pm_ctx_u(("59",)))
def _u_pm_debit():
    return [
        ("BR-DE-20", lambda c, e: nsp(_first(c, e, "cbc:PaymentMeansCode")) != "59"
         or _iban_ok(c.x(e, "cac:PaymentMandate/cac:PayerFinancialAccount/cbc:ID"))),
        ("BR-DE-25-a", lambda c, e: c.has(e, "cac:PaymentMandate")),
        ("BR-DE-25-b", lambda c, e: not c.has(e, "cac:PayeeFinancialAccount") and not c.has(e, "cac:CardAccount")),
    ]


@_rule(U, "M38", 1000, "/ubl:Invoice/cac:TaxTotal/cac:TaxSubtotal | /cn:CreditNote/cac:TaxTotal/cac:TaxSubtotal")
def _u_de14():
    return [("BR-DE-14", lambda c, e: c.text(e, "cac:TaxCategory/cbc:Percent"))]


@_rule(U, "M39", 1008, "//cbc:EmbeddedDocumentBinaryObject", when=_is_ext_ubl)
def _u_dex01():
    return [("BR-DEX-01", lambda c, e: e.get("mimeCode") in EXT_MIME)]


@_rule(U, "M39", 1007, "/ubl:Invoice", when=_is_ext_ubl)
def _u_dex_root():
    def dex02(c, e):
        def lea(node):
            nodes = c.x(node, "cbc:LineExtensionAmount")
            return _dec(nodes[0]) if nodes else None

        def sums_ok(node):
            mine = lea(node)
            total = sum((lea(s) or Decimal(0)) for s in c.x(node, "cac:SubInvoiceLine"))
            return mine is not None and mine == total
        lines_ok = all(sums_ok(line) for line in c.x(e, "/ubl:Invoice/cac:InvoiceLine[cac:SubInvoiceLine]"))
        subs = c.x(e, "//cac:SubInvoiceLine[count(cac:SubInvoiceLine) > 0]")
        return lines_ok and all(sums_ok(s) for s in subs)
    return [
        ("BR-DEX-02", dex02),
        ("BR-DEX-03", lambda c, e: not c.has(e, "//cac:SubInvoiceLine/cac:Item[count(cac:ClassifiedTaxCategory) != 1]")),
    ]


@_rule(U, "M39", 1006, "//cac:LegalMonetaryTotal", when=_is_ext_ubl)
def _u_dex09():
    def test(c, e):
        prepaid = _dec_or(c, e, "cbc:PrepaidAmount")
        rounding = _dec_or(c, e, "cbc:PayableRoundingAmount")
        third = Decimal(0)
        if _has_text(c.x(e, "../cac:PrepaidPayment/cbc:PaidAmount")):
            third = sum((_dec(n) or Decimal(0)) for n in c.x(e, "../cac:PrepaidPayment/cbc:PaidAmount"))
        payable = _dec_or(c, e, "cbc:PayableAmount", None)
        inclusive = _dec_or(c, e, "cbc:TaxInclusiveAmount", None)
        if payable is None or inclusive is None:
            return False
        return _round2(payable - rounding) == _round2(inclusive - prepaid + third)
    return [("BR-DEX-09", test)]


def _dex04(c, e):
    scheme = e.get("schemeID")
    if _scheme_in(ISO_6523_ICD_EXT, scheme):
        return True
    return (" " not in nsp(scheme) and nsp(scheme) == "SEPA"
            and c.has(e, "ancestor::cac:AccountingSupplierParty | ancestor::cac:PayeeParty"))


@_rule(U, "M39", 1005, "//cac:PartyIdentification/cbc:ID[@schemeID]", when=_is_ext_ubl)
def _u_dex04():
    return [("BR-DEX-04", _dex04)]


@_rule(U, "M39", 1004, "//cac:PartyLegalEntity/cbc:CompanyID[@schemeID]", when=_is_ext_ubl)
def _u_dex05():
    return [("BR-DEX-05", lambda c, e: _scheme_in(ISO_6523_ICD_EXT, e.get("schemeID")))]


@_rule(U, "M39", 1003, "//cac:StandardItemIdentification/cbc:ID[@schemeID]", when=_is_ext_ubl)
def _u_dex06():
    return [("BR-DEX-06", lambda c, e: _scheme_in(ISO_6523_ICD_EXT, e.get("schemeID")))]


@_rule(U, "M39", 1002, "//cbc:EndpointID[@schemeID]", when=_is_ext_ubl)
def _u_dex07():
    return [("BR-DEX-07", lambda c, e: _scheme_in(CEF_EAS_EXT, e.get("schemeID")))]


@_rule(U, "M39", 1001, "//cac:DeliveryLocation/cbc:ID[@schemeID]", when=_is_ext_ubl)
def _u_dex08():
    return [("BR-DEX-08", lambda c, e: _scheme_in(ISO_6523_ICD_EXT, e.get("schemeID")))]


@_rule(U, "M39", 1000, "/ubl:Invoice/cac:PrepaidPayment", when=_is_ext_ubl)
def _u_dex_prepaid():
    def dex13(c, e):
        nodes = c.x(e, "cbc:PaidAmount")
        text = sv(nodes[0]) if nodes else ""
        return len(text.partition(".")[2]) <= 2 if "." in text else True
    return [
        ("BR-DEX-10", lambda c, e: c.text(e, "cbc:ID")),
        ("BR-DEX-11", lambda c, e: c.text(e, "cbc:PaidAmount")),
        ("BR-DEX-12", lambda c, e: c.text(e, "cbc:InstructionID")),
        ("BR-DEX-13", dex13),
        ("BR-DEX-14", lambda c, e: any(a == sv(d) for a in c.x(e, "cbc:PaidAmount/@currencyID")
                                       for d in c.x(e, "../cbc:DocumentCurrencyCode"))),
    ]
