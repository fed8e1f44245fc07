"""Typst rendering with per-process caches: one compiler per template, fonts loaded once.

- Templates are written once per process into a private cache directory (one folder per template
  version, which is also the compiler's root: a template cannot read files outside it).
- Data goes in as JSON in the file `data.json` next to the template (`#let d = json("data.json")`),
  rewritten under the compiler's lock before each compile; images such as the GiroCode travel inside the
  JSON as SVG text (`image(bytes(d.girocode_svg), format: "svg")`). Why a file and not `sys.inputs`: the
  inputs are part of Typst's standard library, so new inputs invalidate *all* of Typst's memoised layout
  work (comemo) and every notice was laid out from scratch; a changed file only invalidates what depends
  on its content, so the unchanged parts (footer, Rechtsbehelfsbelehrung, boilerplate paragraphs) are
  reused from the previous notice – about half the Typst time (docs/benchmarks.md). This needs the
  template's `set document(title: ... d.reference)` at its end, not at the top (a set rule with per-case
  data styles everything after it). Templates that still read `sys.inputs.data` (older packages) get the
  data that way too (slower, same result).
- Fonts: `Rathaus Serif` (fonts/ next to this module: Libertinus Serif with TrueType outlines, Latin script;
  scripts/build_fonts.py says why: less CPU per PDF than the PostScript-outline original) and the
  fonts bundled with the typst wheel (`Libertinus Serif`, `New Computer Modern`, `DejaVu Sans Mono`).
  Templates write `font: ("Rathaus Serif", "Libertinus Serif")`: characters outside the Latin subset (Greek,
  Cyrillic, …) come from the original, same design. System fonts are ignored, so the output does not
  depend on the machine. Typst embeds (subsets of) all fonts it uses.
- Output standard: PDF/A-2a (ISO 19005-2, level A: tagged, Unicode text; implies 2u and 2b).
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import typst

PDF_STANDARD = "a-2a"
PDF_STANDARD_LABEL = "PDF/A-2a (ISO 19005-2)"

_lock = threading.Lock()
_state: dict = {"pid": None, "dir": None, "fonts": None, "compilers": {}}


class RenderError(Exception):
    """A template could not be compiled (an administrator's error in the package)."""


def _process_state() -> dict:
    pid = os.getpid()
    if _state["pid"] != pid:  # first use, or a forked worker: do not share compilers across processes
        with _lock:
            if _state["pid"] != pid:
                folder = Path(tempfile.mkdtemp(prefix=f"rathaus-typst-{pid}-"))
                atexit.register(shutil.rmtree, folder, ignore_errors=True)
                _state.update(dir=folder, fonts=None, compilers={})
                _state["pid"] = pid
    return _state


def _fonts():
    st = _process_state()
    if st["fonts"] is None:
        st["fonts"] = typst.Fonts(include_system_fonts=False, include_embedded_fonts=True,
                                  font_paths=[str(FONT_DIR)])
    return st["fonts"]


FONT_DIR = Path(__file__).resolve().parent / "fonts"
DATA_FILE = "data.json"


def _write_data(path: Path, payload: bytes) -> None:
    """Overwrite the data file in place and cut it to the new length. Not `open(..., "w")`: truncating a
    file to zero makes ext4 (auto_da_alloc) free its blocks and start writeback on close, several times
    the cost of the write itself. Typst reads the file by content (no mtime check),
    and the caller holds the compiler's lock, so nobody reads a half-written file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view):]
        os.ftruncate(fd, len(payload))
    finally:
        os.close(fd)


def compiler_for(cache_key, template_text: str) -> tuple[typst.Compiler, threading.Lock, Path]:
    """The compiler of one template version, created once per process, its lock and its folder."""
    st = _process_state()
    hit = st["compilers"].get(cache_key)
    if hit is not None:
        return hit
    with _lock:
        hit = st["compilers"].get(cache_key)
        if hit is None:
            digest = hashlib.sha256(repr(cache_key).encode() + template_text.encode()).hexdigest()[:24]
            folder = st["dir"] / digest
            folder.mkdir(parents=True, exist_ok=True)
            main = folder / "main.typ"
            main.write_text(template_text, encoding="utf-8")
            comp = typst.Compiler(input=str(main), root=str(folder), font_paths=_fonts(), ignore_system_fonts=True)
            hit = st["compilers"][cache_key] = (comp, threading.Lock(), folder)
    return hit


def compile_template(cache_key, template_text: str, data: dict, **options):
    """Compile a template with `data` (JSON in `data.json`; also `sys.inputs.data` for templates that read
    it). `options` go to `typst.Compiler.compile` (format, ppi, pdf_standards, timestamp ...).
    Raises RenderError with Typst's message."""
    if not (template_text or "").strip():
        raise RenderError("Die Leistung hat keine Bescheid-Vorlage (notice.typ).")
    comp, lock, folder = compiler_for(cache_key, template_text)
    payload = json.dumps(data, ensure_ascii=False, default=str)
    if "sys.inputs" in template_text:  # older templates: new inputs mean a full re-layout
        options["sys_inputs"] = {"data": payload}
    try:
        with lock:
            try:
                _write_data(folder / DATA_FILE, payload.encode("utf-8"))
            except FileNotFoundError:  # the temp folder was cleaned away under a long-running process
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "main.typ").write_text(template_text, encoding="utf-8")
                _write_data(folder / DATA_FILE, payload.encode("utf-8"))
            return comp.compile(**options)
    except typst.TypstError as e:
        msg = getattr(e, "diagnostic", "") or getattr(e, "message", None) or str(e)
        hints = "; ".join(getattr(e, "hints", None) or [])
        msg = re.sub(r"\S*rathaus-typst-[^/\s]+/[0-9a-f]+/main\.typ", "notice.typ", " ".join(x for x in (msg, hints) if x))
        raise RenderError(msg.strip()[:2000]) from e


def render_pdf(cache_key, template_text: str, data: dict, *, timestamp: dt.datetime | None = None) -> bytes:
    """Compile a template with `data` to PDF/A bytes. Raises RenderError with Typst's message."""
    ts = int(timestamp.timestamp()) if timestamp is not None else None  # UNIX seconds (SOURCE_DATE_EPOCH)
    pdf = compile_template(cache_key, template_text, data, format="pdf", pdf_standards=[PDF_STANDARD],
                           timestamp=ts)
    if not isinstance(pdf, bytes):
        raise RenderError("Typst lieferte kein PDF (mehrere Ausgaben?).")
    return pdf
