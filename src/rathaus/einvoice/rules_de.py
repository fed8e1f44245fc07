"""Native XRechnung CIUS rules (BR-DE-*, BR-DEX-*, BR-TMP-*, and the PEPPOL-EN16931-R* rules KoSIT
includes) in Python, for UBL (Invoice, CreditNote) and UN/CEFACT CII.

The rule set mirrors KoSIT's compiled XSL for XRechnung 3.0.2 rule by rule: the same ids, flags and
messages (taken verbatim from the generated catalogue `rules_de_catalog`), the same context nodes
(with Schematron's "first matching rule of a pattern wins") and the SVRL `location` in the same
form. It runs without the KoSIT artefacts: lxml navigates, the tests are Python. The agreement with
the official XSL is checked by `tests/test_einvoice_rules_de.py` and reported in
`docs/einvoice-conformance.md` (`scripts/einvoice_conformance.py`).

    findings = check(root_or_bytes, "ubl")   # or "cii"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from lxml import etree

from .rules_de_catalog import CATALOG

NS_UBL = {
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "ubl": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
NS_CII = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
}

_VARS = CATALOG["ubl"]["variables"]
XR_VERSION = _VARS["XR-MAJOR-MINOR-VERSION"]
XR_CIUS_ID = f"urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_{XR_VERSION}"
XR_EXTENSION_ID = f"{XR_CIUS_ID}#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_{XR_VERSION}"
ISO_6523_ICD_EXT = _VARS["DIGA-CODES"] + _VARS["ISO-6523-ICD-CODES"]
CEF_EAS_EXT = _VARS["DIGA-CODES"] + _VARS["CEF-EAS-CODES"]


def _xsd_regex(pattern: str) -> re.Pattern:
    """XPath regex -> Python: `\\s` is only [ \\t\\n\\r] and `$` only matches at the very end."""
    pattern = pattern.replace(r"[^@\s]", "[^@ \t\n\r]").replace(r"[^@.\s]", "[^@. \t\n\r]")
    if pattern.endswith("$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


SKONTO_RE = _xsd_regex(_VARS["XR-SKONTO-REGEX"])
EMAIL_RE = _xsd_regex(_VARS["XR-EMAIL-REGEX"])
URL_RE = re.compile(_VARS["XR-URL-REGEX"])
IBAN_RE = re.compile(r"^[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{0,30}\Z")
SUPPORTED_VAT = ("S", "Z", "E", "AE", "K", "G", "L", "M")
SUPPORTED_TYPES = ("326", "380", "384", "389", "381", "875", "876", "877")
EXT_MIME = ("application/pdf", "image/png", "image/jpeg", "text/csv",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.oasis.opendocument.spreadsheet", "application/xml")

# every rule id of the official rule set -> message (UBL text where both syntaxes have the rule)
ALL_RULES: dict[str, str] = {}
for _syntax in ("cii", "ubl"):
    for _r in CATALOG[_syntax]["rules"]:
        ALL_RULES[_r["id"]] = _r["message"]
_META = {syntax: {r["id"]: r for r in CATALOG[syntax]["rules"]} for syntax in CATALOG}


@dataclass(frozen=True)
class NativeFinding:
    rule: str
    flag: str
    message: str
    location: str


# ---------------------------------------------------------------- XPath helpers (XPath 2.0 semantics)

_WS = re.compile(r"[ \t\r\n]+")
_xpath_string = etree.XPath("string()")


def _string(el) -> str:
    """XPath string() of an element: its text if it has no child nodes at all (len() counts elements,
    comments and processing instructions), else the concatenated descendant text."""
    if len(el) == 0:
        return el.text or ""
    return _xpath_string(el)


# compiled XPath per (syntax, expression), built on first use; lxml serialises calls into one evaluator
_XPATHS: dict[tuple[str, str], etree.XPath] = {}


def nsp(value) -> str:
    """normalize-space()"""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = sv(value)
    return _WS.sub(" ", value).strip(" ")


def sv(node) -> str:
    """The string value of a node (elements: all descendant text; attributes/strings: themselves)."""
    if node is None:
        return ""
    if isinstance(node, etree._Element):
        return _string(node)
    return str(node)


def _dec(node) -> Decimal | None:
    try:
        return Decimal(sv(node).strip(" \t\r\n"))
    except (InvalidOperation, ValueError):
        return None


def _xround(value: Decimal) -> Decimal:
    """fn:round: half towards positive infinity."""
    return (value + Decimal("0.5")).to_integral_value(rounding=ROUND_FLOOR)


def _round2(value: Decimal) -> Decimal:
    return _xround(value * 100) / 100


def _has_text(nodes: Iterable) -> bool:
    """path[boolean(normalize-space(.))] is not empty"""
    return any(nsp(n) for n in nodes)


def _iban_ok(nodes: list) -> bool:
    """BR-DE-19/20: the IBAN pattern and the ISO 7064 MOD 97-10 check, as KoSIT computes them."""
    if len(nodes) > 1:
        return False
    raw = sv(nodes[0]) if nodes else ""
    s = nsp(re.sub(r"[ \n\r\t]", "", raw))
    if not IBAN_RE.match(s):
        return False
    rearranged = s[4:] + s[0:2].upper() + s[2:4]
    digits = "".join(str(ord(c) - 55) if ord(c) > 64 else str(ord(c) - 48) for c in rearranged)
    try:
        return int(digits) % 97 == 1
    except ValueError:
        return False


def _skonto_ok(notes: list) -> bool:
    """BR-DE-18 on the first payment terms note(s)."""
    texts = [sv(n) for n in notes]
    lines = [line for t in texts for line in re.split(r"\r?\n", t) if nsp(line).startswith("#")]
    if not lines:
        return True
    tails = []
    for t in texts:
        tokens = re.split(r"#.+#", t) if t else []
        if tokens:
            tails.append(tokens[-1])
    tail_ok = len(tails) == 1 and re.match(r"[ \t\n\r]*\n", tails[0]) is not None
    return all(SKONTO_RE.search(nsp(line)) for line in lines) and tail_ok


def _scheme_in(code_list: str, scheme: str) -> bool:
    s = nsp(scheme)
    return " " not in s and f" {s} " in code_list


def _name(el) -> str:
    local = etree.QName(el).localname
    return f"{el.prefix}:{local}" if el.prefix else local


def location(el) -> str:
    """The SVRL location as KoSIT's XSL writes it (schematron-get-full-path-3)."""
    parts = []
    while el is not None:
        name = _name(el)
        parent = el.getparent()
        if parent is None:
            parts.append(f"/{name}")
        else:
            idx = 1 + sum(1 for s in el.itersiblings(preceding=True)
                          if isinstance(s.tag, str) and _name(s) == name)
            parts.append(f"/{name}[{idx}]")
        el = parent
    return "".join(reversed(parts))


# ---------------------------------------------------------------- rule registry

Test = Callable[["Ctx", etree._Element], bool]


@dataclass
class Rule:
    pattern: str
    priority: int
    context: str                    # lxml XPath 1.0 selecting the context nodes
    asserts: list[tuple[str, Test]]
    when: Callable[[Ctx], bool] | None = None   # e.g. $isExtension


class Ctx:
    def __init__(self, root, syntax: str):
        self.root = root
        self.syntax = syntax
        self.ns = NS_UBL if syntax == "ubl" else NS_CII

    def x(self, el, path: str) -> list:
        xp = _XPATHS.get((self.syntax, path))
        if xp is None:
            xp = _XPATHS[(self.syntax, path)] = etree.XPath(path, namespaces=self.ns)
        return xp(el)

    def has(self, el, path: str) -> bool:
        return bool(self.x(el, path))

    def text(self, el, path: str) -> bool:
        return _has_text(self.x(el, path))


UBL_RULES: list[Rule] = []
CII_RULES: list[Rule] = []


def _rule(registry, pattern, priority, context, when=None):
    def deco(fn):
        asserts = fn()
        registry.append(Rule(pattern, priority, context, asserts, when))
        return fn
    return deco


def _is_ext_ubl(c: Ctx) -> bool:
    return any((e.text or "") == XR_EXTENSION_ID for e in c.x(c.root, "/ubl:Invoice/cbc:CustomizationID | "
                                                             "/cn:CreditNote/cbc:CustomizationID"))


def _is_ext_cii(c: Ctx) -> bool:
    path = "/rsm:CrossIndustryInvoice/rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
    return any((e.text or "") == XR_EXTENSION_ID for e in c.x(c.root, path))


def _slack(c: Ctx, doc_currency_path: str) -> Decimal:
    return Decimal("0.5") if any(sv(n) == "HUF" for n in c.x(c.root, doc_currency_path)) else Decimal("0.02")


def _in_slack(expected: Decimal, value: Decimal, slack: Decimal) -> bool:
    return expected + slack >= value and expected - slack <= value


def _dec_or(c: Ctx, el, path: str, default: Decimal = Decimal(0)) -> Decimal:
    nodes = c.x(el, path)
    if not nodes:
        return default
    value = _dec(nodes[0])
    return value if value is not None else default


def _sum_rounded(c: Ctx, el, path: str) -> Decimal:
    nodes = c.x(el, path)
    if not nodes:
        return Decimal(0)
    return _round2(sum((_dec(n) or Decimal(0)) for n in nodes))


def _cmp_num(nodes, op) -> bool:
    """General comparison of nodes with a number (untypedAtomic -> double)."""
    for n in nodes:
        v = _dec(n)
        if v is not None and op(v):
            return True
    return False


# ================================================================= UBL
U = UBL_RULES
_ROOT_U = "/ubl:Invoice | /cn:CreditNote"


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


def _r040(amount: str, base: str, percent: str, currency: str):
    def test(c, e):
        if not (c.has(e, percent) and c.has(e, base)):
            return True
        expected = _dec_or(c, e, amount)
        value = (_dec(c.x(e, base)[0]) or Decimal(0)) * (_dec(c.x(e, percent)[0]) or Decimal(0)) / 100
        return _in_slack(expected, value, _slack(c, currency))
    return test


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


def _first(c: Ctx, e, path: str):
    nodes = c.x(e, path)
    return nodes[0] if nodes else ""


def _url_ok(nodes) -> bool:
    return len(nodes) <= 1 and URL_RE.search(sv(nodes[0]) if nodes else "") is not None


@_rule(U, "M38", 1009, "/ubl:Invoice/cac:AdditionalDocumentReference/cac:Attachment/cac:ExternalReference | "
                       "/cn:CreditNote/cac:AdditionalDocumentReference/cac:Attachment/cac:ExternalReference")
def _u_tmp2():
    return [("BR-TMP-2", lambda c, e: _url_ok(c.x(e, "cbc:URI")))]


@_rule(U, "M38", 1008, "/ubl:Invoice/cac:AccountingSupplierParty | /cn:CreditNote/cac:AccountingSupplierParty")
def _u_de2():
    return [("BR-DE-2", lambda c, e: c.has(e, "cac:Party/cac:Contact"))]


def _phone_ok(nodes) -> bool:
    return len(nodes) <= 1 and sum(ch in "0123456789" for ch in nsp(nodes[0] if nodes else "")) >= 3


def _email_ok(nodes) -> bool:
    return len(nodes) <= 1 and EMAIL_RE.search(nsp(nodes[0] if nodes else "")) is not None


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


# ================================================================= CII
C = CII_RULES
_HS = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement"
_HA = "/rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeAgreement"


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


# ---------------------------------------------------------------- running

IMPLEMENTED: set[str] = {rid for rules in (UBL_RULES, CII_RULES) for r in rules for rid, _ in r.asserts}
IMPLEMENTED_BY_SYNTAX = {"ubl": {rid for r in UBL_RULES for rid, _ in r.asserts},
                         "cii": {rid for r in CII_RULES for rid, _ in r.asserts}}


def _parse(data: bytes):
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    root = etree.fromstring(data, parser)
    if root.getroottree().docinfo.doctype:
        raise ValueError("DOCTYPE ist nicht erlaubt")
    return root


def _message(syntax: str, rule: str, el) -> str:
    text = _META[syntax][rule]["message"]
    return text.replace("{name}", _name(el)).replace("{mimeCode}", el.get("mimeCode") or "")


_PATTERNS: dict[str, list[list[Rule]]] = {}


def _by_pattern(syntax: str) -> list[list[Rule]]:
    """The rules of a syntax grouped by pattern (in order of first appearance), each group by descending
    priority: computed once (the registries are fixed at import)."""
    groups = _PATTERNS.get(syntax)
    if groups is None:
        patterns: dict[str, list[Rule]] = {}
        for r in UBL_RULES if syntax == "ubl" else CII_RULES:
            patterns.setdefault(r.pattern, []).append(r)
        groups = _PATTERNS[syntax] = [sorted(rules, key=lambda r: -r.priority) for rules in patterns.values()]
    return groups


def check(doc, syntax: str) -> list[NativeFinding]:
    """All firings of the XRechnung 3.0.2 rule set on `doc` (lxml element or bytes); syntax "ubl"/"cii"."""
    syntax = syntax.lower()
    if syntax not in ("ubl", "cii"):
        raise ValueError(f"unbekannte Syntax: {syntax}")
    root = _parse(doc) if isinstance(doc, bytes | bytearray) else doc
    if isinstance(root, etree._ElementTree):
        root = root.getroot()
    ctx = Ctx(root, syntax)
    findings: list[NativeFinding] = []
    for pattern_rules in _by_pattern(syntax):
        claimed: set = set()
        for r in pattern_rules:
            if r.when is not None and not r.when(ctx):
                continue
            for el in ctx.x(root, r.context):
                if not isinstance(el, etree._Element) or el in claimed:
                    continue
                claimed.add(el)
                for rid, test in r.asserts:
                    if not test(ctx, el):
                        meta = _META[syntax][rid]
                        findings.append(NativeFinding(rid, meta["flag"], _message(syntax, rid, el), location(el)))
    return findings
