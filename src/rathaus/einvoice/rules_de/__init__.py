"""Native XRechnung CIUS rules (BR-DE-*, BR-DEX-*, BR-TMP-*, and the PEPPOL-EN16931-R* rules KoSIT
includes) in Python, for UBL (Invoice, CreditNote) and UN/CEFACT CII.

The rule set mirrors KoSIT's compiled XSL for XRechnung 3.0.2 rule by rule: the same ids, flags and
messages (taken verbatim from the generated catalogue `rules_de_catalog`), the same context nodes
(with Schematron's "first matching rule of a pattern wins") and the SVRL `location` in the same
form. It runs without the KoSIT artefacts: lxml navigates, the tests are Python. The agreement with
the official XSL is checked by `tests/test_einvoice_rules_de.py` and reported in
`docs/einvoice-conformance.md` (`scripts/einvoice_conformance.py`).

    findings = check(root_or_bytes, "ubl")   # or "cii"

Layout: `base` (namespaces, XPath helpers, rule registry), `ubl` and `cii` (the rules of each
syntax), this module (running them: `check`) and the generated catalogue `..rules_de_catalog`.
"""

from __future__ import annotations

from lxml import etree

from .base import (
    _META,
    ALL_RULES,
    CEF_EAS_EXT,
    EMAIL_RE,
    EXT_MIME,
    IBAN_RE,
    ISO_6523_ICD_EXT,
    NS_CII,
    NS_UBL,
    SKONTO_RE,
    SUPPORTED_TYPES,
    SUPPORTED_VAT,
    URL_RE,
    XR_CIUS_ID,
    XR_EXTENSION_ID,
    XR_VERSION,
    Ctx,
    NativeFinding,
    Rule,
    Test,
    _name,
    location,
    nsp,
    sv,
)
from .base import _string as _string  # XPath string() with the leaf fast path, for einvoice.parse
from .cii import CII_RULES
from .ubl import UBL_RULES

__all__ = [
    "ALL_RULES",
    "CEF_EAS_EXT",
    "CII_RULES",
    "Ctx",
    "EMAIL_RE",
    "EXT_MIME",
    "IBAN_RE",
    "IMPLEMENTED",
    "IMPLEMENTED_BY_SYNTAX",
    "ISO_6523_ICD_EXT",
    "NS_CII",
    "NS_UBL",
    "NativeFinding",
    "Rule",
    "SKONTO_RE",
    "SUPPORTED_TYPES",
    "SUPPORTED_VAT",
    "Test",
    "UBL_RULES",
    "URL_RE",
    "XR_CIUS_ID",
    "XR_EXTENSION_ID",
    "XR_VERSION",
    "check",
    "location",
    "nsp",
    "sv",
]

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
