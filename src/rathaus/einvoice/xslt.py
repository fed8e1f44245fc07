"""Run Schematron rules compiled to XSLT (CEN EN 16931, KoSIT XRechnung) through saxonche and read
the SVRL report.

Stylesheets are compiled once per process and thread (saxonche objects are not shared between
threads) and reused; a run on a typical invoice takes a few milliseconds. Input documents are
parsed by Saxon from text the caller has already checked (well-formed, no DTD, size limit); parse a
document once with `parse()` and hand the node to several stylesheets with `run_svrl_node()`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
_local = threading.local()


@dataclass(frozen=True)
class SvrlResult:
    rule: str          # the assertion id, e.g. "BR-CO-15", "BR-DE-15"
    flag: str          # "fatal", "error", "warning", "information" (as the rule set declares)
    location: str      # XPath of the context node
    test: str          # the XPath test that failed
    text: str          # the rule's message (English for CEN, German/English for KoSIT)
    fired: bool = True  # failed-assert / successful-report (always True for results returned)


def _processor():
    proc = getattr(_local, "proc", None)
    if proc is None:
        from saxonche import PySaxonProcessor

        proc = PySaxonProcessor(license=False)
        _local.proc = proc
        _local.compiled = {}
    return proc


def compiled(path: str | Path):
    """The compiled stylesheet for `path` (compiled on first use in this thread)."""
    proc = _processor()
    key = str(Path(path).resolve())
    ex = _local.compiled.get(key)
    if ex is None:
        xp = proc.new_xslt30_processor()
        ex = xp.compile_stylesheet(stylesheet_file=key)
        if ex is None:
            raise RuntimeError(f"XSLT konnte nicht übersetzt werden: {key}")
        _local.compiled[key] = ex
    return ex


def forget(prefix: str | Path) -> None:
    """Drop this thread's compiled stylesheets below `prefix` (after an artefact set was removed)."""
    if getattr(_local, "compiled", None) is None:
        return
    base = str(Path(prefix).resolve())
    for key in [k for k in _local.compiled if k.startswith(base)]:
        del _local.compiled[key]


def parse(text: str):
    """The document as a Saxon node, to be handed to several stylesheets."""
    return _processor().parse_xml(xml_text=text)


def run_svrl_node(path: str | Path, node) -> list[SvrlResult]:
    """Apply a Schematron-XSLT to a parsed document; return every failed assert and successful report."""
    out = compiled(path).transform_to_string(xdm_node=node)
    if out is None:
        raise RuntimeError(f"XSLT lieferte kein Ergebnis: {path}")
    if "failed-assert" not in out and "successful-report" not in out:
        return []  # the common case (a valid invoice): no need to parse the report
    return parse_svrl(out.encode("utf-8"))


def run_svrl(path: str | Path, xml: bytes | str) -> list[SvrlResult]:
    """Apply a Schematron-XSLT to the document (bytes in UTF-8, or text)."""
    text = xml if isinstance(xml, str) else xml.decode("utf-8-sig")
    return run_svrl_node(path, parse(text))


def parse_svrl(svrl: bytes) -> list[SvrlResult]:
    # the SVRL comes from our own stylesheets, but may quote huge values of the document
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    root = etree.fromstring(svrl, parser)
    results = []
    for el in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text_el = el.find(f"{{{SVRL}}}text")
        results.append(SvrlResult(
            rule=el.get("id") or "",
            flag=(el.get("flag") or "error").lower(),
            location=el.get("location") or "",
            test=el.get("test") or "",
            text=" ".join((text_el.text or "").split()) if text_el is not None else "",
        ))
    return results
