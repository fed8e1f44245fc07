"""The hardened XML input of the camt.053 parser: bytes in, lxml pull-parser events out, hostile input refused.

* The file is read in chunks; every byte is counted and the file is refused once it exceeds
  ``max_bytes`` (no length header is trusted): `CountingReader`.
* The pull parser is configured defensively (no entity resolution, no network, no DTD loading, no huge
  trees, comments removed): `make_parser`. Any DOCTYPE/DTD and any processing instruction is refused
  outright, so XXE, "billion laughs" and external DTDs cannot do harm.
* Before the real parse, the first two start tags are sniffed (root and message element) so that the wrong
  message type (camt.052, camt.054, pain.001, ...) or another format (ZIP, PDF, MT940) is reported at once
  with a clear German message, without reading the rest of the file: `sniff`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any

from lxml import etree

from .camt_model import NS_PREFIX, SUPPORTED_VERSIONS, CamtError, shorten

CHUNK_SIZE = 64 * 1024
# The root element must start within this many bytes (the prolog may only hold the XML
# declaration, whitespace and comments).
SNIFF_LIMIT = 1024 * 1024

PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "dtd_validation": False,
    "attribute_defaults": False,
}

# Known message types, for a helpful message when the wrong file is uploaded.
MESSAGE_NAMES = {
    "camt.052": "Kontobericht",
    "camt.053": "Kontoauszug",
    "camt.054": "Soll-/Haben-Avis",
    "camt.029": "Antwort auf einen Rückrufantrag",
    "camt.056": "Rückrufantrag",
    "pain.001": "Überweisungsauftrag",
    "pain.002": "Statusbericht zu einem Zahlungsauftrag",
    "pain.008": "Lastschriftauftrag",
    "pacs.002": "Zahlungsstatusbericht zwischen Banken",
    "pacs.008": "Überweisung zwischen Banken",
}
MESSAGE_ELEMENTS = {
    "BkToCstmrStmt": "camt.053",
    "BkToCstmrAcctRpt": "camt.052",
    "BkToCstmrDbtCdtNtfctn": "camt.054",
    "CstmrCdtTrfInitn": "pain.001",
    "CstmrPmtStsRpt": "pain.002",
    "CstmrDrctDbtInitn": "pain.008",
}
PI_MESSAGE = "Die Datei enthält eine Verarbeitungsanweisung (<?…?>); das ist in Kontoauszügen nicht zulässig."


def _describe_namespace(ns: str, local: str) -> str:
    """A German message for a document that is not a supported camt.053."""
    msg_type = ""
    version = ""
    if ns.startswith(NS_PREFIX):
        parts = ns[len(NS_PREFIX) :].split(".")
        if len(parts) >= 2:
            msg_type = f"{parts[0]}.{parts[1]}"
            version = ".".join(parts[2:])
    if not msg_type or msg_type not in MESSAGE_NAMES:
        msg_type = MESSAGE_ELEMENTS.get(local, msg_type)
    supported = ", ".join(v.removeprefix("camt.053.") for v in SUPPORTED_VERSIONS)
    if msg_type == "camt.053":
        if version:
            return (
                f"Die camt.053-Version {version} wird nicht unterstützt; "
                f"unterstützt werden die Versionen {supported}."
            )
        if not ns:
            return (
                "Dem camt.053-Dokument fehlt der Namensraum "
                "(erwartet urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx)."
            )
        return f"Die camt.053-Datei hat einen unbekannten Namensraum „{shorten(ns, 80)}“."
    if msg_type in MESSAGE_NAMES:
        if msg_type in ("pain.001", "pain.008"):  # orders, not messages in the bank's sense
            return (
                f"Das ist ein {msg_type}-Auftrag ({MESSAGE_NAMES[msg_type]}), "
                "erwartet wird camt.053 (Kontoauszug)."
            )
        return (
            f"Das ist eine {msg_type}-Nachricht ({MESSAGE_NAMES[msg_type]}), "
            "erwartet wird camt.053 (Kontoauszug)."
        )
    if msg_type:
        return f"Das ist eine {msg_type}-Nachricht, erwartet wird camt.053 (Kontoauszug)."
    if not ns:
        return (
            "Die Datei ist kein ISO-20022-Kontoauszug: dem Wurzelelement fehlt der Namensraum "
            "(erwartet urn:iso:std:iso:20022:tech:xsd:camt.053.001.xx)."
        )
    return (
        f"Die Datei ist kein camt.053-Kontoauszug (Namensraum „{shorten(ns, 80)}“, "
        f"Element „{shorten(local)}“)."
    )


class CountingReader:
    """Reads ``source`` in chunks and refuses to deliver more than ``max_bytes``."""

    def __init__(self, source: Any, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.count = 0
        self._close: IO[bytes] | None = None
        self._data: memoryview | None = None
        self._file: Any = None
        if isinstance(source, bytes | bytearray | memoryview):
            self._data = memoryview(source).cast("B")
        elif isinstance(source, str | os.PathLike):
            self._file = self._close = open(source, "rb")  # noqa: SIM115 - closed in close()
        elif hasattr(source, "read"):
            self._file = source
        else:
            raise TypeError("source must be bytes, a path or a binary file object")

    def chunks(self) -> Iterator[bytes]:
        if self._data is not None:
            data = self._data
            for start in range(0, len(data), CHUNK_SIZE):
                yield self._counted(bytes(data[start : start + CHUNK_SIZE]))
            return
        read = self._file.read
        while True:
            chunk = read(CHUNK_SIZE)
            if not chunk:
                return
            if isinstance(chunk, str):
                raise TypeError("the file object must be opened in binary mode")
            yield self._counted(bytes(chunk))

    def _counted(self, chunk: bytes) -> bytes:
        self.count += len(chunk)
        if self.count > self.max_bytes:
            raise CamtError(
                f"Die Datei ist zu groß: mehr als {self.max_bytes:,} Bytes ".replace(",", ".")
                + f"(höchstens {_human_size(self.max_bytes)} sind erlaubt)."
            )
        return chunk

    def close(self) -> None:
        if self._close is not None:
            self._close.close()
            self._close = None


def _human_size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.0f} MB"
    if n >= 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n} Bytes"


def syntax_error(exc: etree.XMLSyntaxError, *, at_end: bool = False) -> CamtError:
    """A German CamtError for an lxml syntax error (the first libxml2 error is the telling one)."""
    text = str(exc.msg or exc).strip()
    line = exc.lineno or None
    # exc.error_log is a copy of the thread's log and may hold older errors; the latest parser
    # error belongs to this parse (e.g. "Entity 'x' not defined" behind a generic "no element found").
    log = getattr(exc, "error_log", None)
    parser_errors = [e for e in log if e.domain == etree.ErrorDomains.PARSER] if log is not None else []
    if parser_errors and parser_errors[-1].message:
        text = parser_errors[-1].message.strip()
        line = parser_errors[-1].line or line
    lowered = text.lower()
    if "entity" in lowered:
        return CamtError(
            "Die Datei enthält eine Entity-Referenz, die nicht aufgelöst wird; "
            "DTDs und Entities sind in Kontoauszügen nicht zulässig.",
            line,
        )
    if "huge" in lowered or "depth" in lowered:
        return CamtError("Die XML-Struktur ist zu tief verschachtelt oder ein Text zu lang.", line)
    if at_end:
        return CamtError(f"Die Datei ist unvollständig (vorzeitig zu Ende, abgeschnitten?): {text}", line)
    return CamtError(f"Die Datei ist kein gültiges XML: {text}", line)


def _check_not_other_format(head: bytes) -> None:
    """Give a specific message for well-known non-XML uploads."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"PK\x03\x04"):
        raise CamtError(
            "Die Datei ist ein ZIP-Archiv; bitte die darin enthaltenen camt.053-XML-Dateien einzeln hochladen."
        )
    if stripped.startswith(b"%PDF"):
        raise CamtError("Die Datei ist ein PDF; erwartet wird ein camt.053-Kontoauszug im XML-Format.")
    if stripped.startswith((b":20:", b"{1:", b":940:")) or b"\n:20:" in stripped[:200]:
        raise CamtError(
            "Die Datei sieht wie ein MT940-Kontoauszug aus; erwartet wird camt.053 (XML)."
        )
    if not stripped:
        raise CamtError("Die Datei ist leer.")


def make_parser(events: tuple[str, ...], tags: list[str] | None = None) -> etree.XMLPullParser:
    if tags is None:
        return etree.XMLPullParser(events=events, **PARSER_OPTIONS)
    return etree.XMLPullParser(events=events, tag=tags, **PARSER_OPTIONS)


DTD_MESSAGE = "Die Datei enthält eine DTD/DOCTYPE-Deklaration; das ist in Kontoauszügen nicht zulässig."
_DOCTYPE_MARKERS = tuple(
    text.encode(encoding)
    for text in ("<!DOCTYPE", "<!doctype", "<!ENTITY")
    for encoding in ("ascii", "utf-16-le", "utf-16-be")
)


def _check_prolog(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url or docinfo.public_id:
        raise CamtError(DTD_MESSAGE)


def sniff(chunks: Iterator[bytes]) -> tuple[str, str, list[bytes]]:
    """Read until the root and the message element have started; return (ns, local name, chunks)."""
    parser = make_parser(("start", "pi"))
    buffered: list[bytes] = []
    size = 0
    started: list[etree._Element] = []
    tail = b""
    for chunk in chunks:
        if not buffered:
            _check_not_other_format(chunk[:512])
        if not started:
            # Refuse a DTD before libxml2 even reads it (billion laughs is caught while the
            # internal subset is parsed, so the docinfo check below would come too late).
            window = tail + chunk
            if any(marker in window for marker in _DOCTYPE_MARKERS):
                raise CamtError(DTD_MESSAGE)
            tail = window[-32:]
        buffered.append(chunk)
        size += len(chunk)
        try:
            parser.feed(chunk)
            for event, el in parser.read_events():
                if event == "pi":
                    raise CamtError(PI_MESSAGE, el.sourceline)
                if not started:
                    _check_prolog(el)
                started.append(el)
                if len(started) >= 2:
                    break
        except etree.XMLSyntaxError as exc:
            raise syntax_error(exc) from None
        if started:
            _check_prolog(started[0])
        if len(started) >= 2:
            break
        if size > SNIFF_LIMIT and not started:
            raise CamtError("Die Datei ist kein camt.053-Kontoauszug: kein XML-Wurzelelement gefunden.")
    else:
        if not buffered:
            raise CamtError("Die Datei ist leer.")
        try:
            parser.close()
        except etree.XMLSyntaxError as exc:
            raise syntax_error(exc) from None
        if not started:  # pragma: no cover - close() raises on an empty document
            raise CamtError("Die Datei ist kein XML.")
    root = started[0]
    ns, local = split_tag(root.tag)
    if local != "Document":
        if len(started) < 2 and local in MESSAGE_ELEMENTS:
            raise CamtError(_describe_namespace(ns, local), root.sourceline)
        raise CamtError(
            f"Die Datei ist kein camt.053-Kontoauszug: Wurzelelement „{shorten(local)}“ statt „Document“.",
            root.sourceline,
        )
    if len(started) < 2:
        raise CamtError("Die Datei enthält kein Nachrichtenelement unter „Document“.", root.sourceline)
    msg_ns, msg_local = split_tag(started[1].tag)
    version = ns[len(NS_PREFIX) :] if ns.startswith(NS_PREFIX) else ""
    if version not in SUPPORTED_VERSIONS or msg_local != "BkToCstmrStmt" or msg_ns != ns:
        if version in SUPPORTED_VERSIONS and msg_local != "BkToCstmrStmt":
            if msg_local in MESSAGE_ELEMENTS:
                raise CamtError(_describe_namespace("", msg_local), started[1].sourceline)
            raise CamtError(
                f"Die Datei ist kein camt.053-Kontoauszug: unter „Document“ steht „{shorten(msg_local)}“ "
                "statt „BkToCstmrStmt“.",
                started[1].sourceline,
            )
        raise CamtError(_describe_namespace(ns, msg_local), root.sourceline)
    return ns, version, buffered


def split_tag(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", str(tag)
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag
