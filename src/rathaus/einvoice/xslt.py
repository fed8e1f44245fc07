"""Run Schematron rules compiled to XSLT (CEN EN 16931, KoSIT XRechnung) through saxonche and read
the SVRL report.

Stylesheets are compiled once per process and reused; a run on a typical invoice takes a few
milliseconds. Input documents are parsed by Saxon from text the caller has already checked
(well-formed, no DTD, size limit); parse a document once with `parse()` and hand the node to several
stylesheets with `run_svrl_node()`.

Threads: saxonche (SaxonC 13, a GraalVM native image) must have exactly one `PySaxonProcessor` per
process. A processor per thread crashes the whole process when such a thread ends (StackOverflowError
while detaching the thread from the isolate; e.g. Django's threaded development server, which uses a
thread per request). So there is one processor, and every call into Saxon holds one lock: validations
in threads of one process run their XSLT one after the other (`rathaus serve` runs one request thread per worker process).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
_lock = threading.RLock()
_state: dict = {"proc": None, "compiled": {}}


@dataclass(frozen=True)
class SvrlResult:
    rule: str          # the assertion id, e.g. "BR-CO-15", "BR-DE-15"
    flag: str          # "fatal", "error", "warning", "information" (as the rule set declares)
    location: str      # XPath of the context node
    test: str          # the XPath test that failed
    text: str          # the rule's message (English for CEN, German/English for KoSIT)
    fired: bool = True  # failed-assert / successful-report (always True for results returned)


def _processor():
    with _lock:
        proc = _state["proc"]
        if proc is None:
            from saxonche import PySaxonProcessor

            proc = _state["proc"] = PySaxonProcessor(license=False)
        return proc


def compiled(path: str | Path):
    """The compiled stylesheet for `path` (compiled on first use in this process, and again when the file
    was replaced, e.g. by reinstalling the same version of KoSIT's artefacts)."""
    resolved = Path(path).resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    with _lock:
        ex = _state["compiled"].get(key)
        if ex is None:
            xp = _processor().new_xslt30_processor()
            ex = xp.compile_stylesheet(stylesheet_file=str(resolved))
            if ex is None:
                raise RuntimeError(f"XSLT konnte nicht übersetzt werden: {resolved}")
            _state["compiled"][key] = ex
        return ex


def forget(prefix: str | Path) -> None:
    """Drop compiled stylesheets below `prefix` (after an artefact set was removed or replaced)."""
    base = str(Path(prefix).resolve())
    with _lock:
        for key in [k for k in _state["compiled"] if k[0].startswith(base)]:
            del _state["compiled"][key]


def parse(text: str):
    """The document as a Saxon node, to be handed to several stylesheets."""
    proc = _processor()
    with _lock:
        return proc.parse_xml(xml_text=text)


def run_svrl_node(path: str | Path, node) -> list[SvrlResult]:
    """Apply a Schematron-XSLT to a parsed document; return every failed assert and successful report."""
    ex = compiled(path)
    with _lock:
        out = ex.transform_to_string(xdm_node=node)
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
