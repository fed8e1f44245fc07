"""Shared machinery of the native XRechnung rules: namespaces and constants from the generated
catalogue, XPath 2.0 semantics in Python (string value, normalize-space, fn:round), the decimal and
code-list helpers, the SVRL location, the rule registry (`Rule`, `Ctx`, `_rule`) and the tests both
syntaxes share (R040, URL, phone, e-mail)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from lxml import etree

from ..rules_de_catalog import CATALOG

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


def _rule(registry, pattern, priority, context, when=None):
    def deco(fn):
        asserts = fn()
        registry.append(Rule(pattern, priority, context, asserts, when))
        return fn
    return deco


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


# ---------------------------------------------------------------- tests shared by UBL and CII

def _r040(amount: str, base: str, percent: str, currency: str):
    def test(c, e):
        if not (c.has(e, percent) and c.has(e, base)):
            return True
        expected = _dec_or(c, e, amount)
        value = (_dec(c.x(e, base)[0]) or Decimal(0)) * (_dec(c.x(e, percent)[0]) or Decimal(0)) / 100
        return _in_slack(expected, value, _slack(c, currency))
    return test


def _first(c: Ctx, e, path: str):
    nodes = c.x(e, path)
    return nodes[0] if nodes else ""


def _url_ok(nodes) -> bool:
    return len(nodes) <= 1 and URL_RE.search(sv(nodes[0]) if nodes else "") is not None


def _phone_ok(nodes) -> bool:
    return len(nodes) <= 1 and sum(ch in "0123456789" for ch in nsp(nodes[0] if nodes else "")) >= 3


def _email_ok(nodes) -> bool:
    return len(nodes) <= 1 and EMAIL_RE.search(nsp(nodes[0] if nodes else "")) is not None
