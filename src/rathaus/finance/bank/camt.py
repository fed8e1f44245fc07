"""Hardened, streaming parser for ISO 20022 camt.053 bank statements (Kontoauszüge).

Supported message versions: camt.053.001.02 to camt.053.001.08, as delivered by German banks
(Deutsche Kreditwirtschaft, "DK" flavour) and others. Pure Python on top of lxml; no Django.

Design:

* The file is read in chunks; every byte is counted and the file is refused once it exceeds
  ``max_bytes`` (no length header is trusted). The chunks are fed to an ``lxml`` pull parser
  configured defensively (no entity resolution, no network, no DTD loading, no huge trees,
  comments removed). Any DOCTYPE/DTD and any processing instruction is refused outright, so
  XXE, "billion laughs" and external DTDs cannot do harm.
* Before the real parse, the first two start tags are sniffed (root and message element) so that
  the wrong message type (camt.052, camt.054, pain.001, ...) is reported at once with a clear
  German message, without reading the rest of the file.
* The pull parser only reports the few elements we need (``GrpHdr``, ``Stmt``, ``Ntry``), so the
  cost per entry is a handful of ``find`` calls. Every processed ``Ntry`` is cleared and its
  preceding siblings (header elements, earlier entries) are deleted, so memory stays bounded
  no matter how many entries the file holds.
* Errors are raised lazily, while iterating, as :class:`CamtError` with a German message and the
  source line where known.

Elements are matched by local name inside the namespace of the detected version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from lxml import etree

__all__ = [
    "SUPPORTED_VERSIONS",
    "Balance",
    "CamtError",
    "Entry",
    "StatementInfo",
    "Transaction",
    "normalise_iban",
    "parse_amount",
    "parse_camt053",
    "read_statement_infos",
]

NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(f"camt.053.001.{n:02d}" for n in range(2, 9))
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CHUNK_SIZE = 64 * 1024
_CACHE_SIZE = 4096  # checked amounts, dates, currencies remembered by their text (per document)
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

_AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CCY_RE = re.compile(r"[A-Z]{3}")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?")
_DATETIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


class CamtError(ValueError):
    """A camt.053 file cannot be read. The message is German and meant for the user.

    ``line`` is the line in the source file where the problem was found, if known.
    """

    def __init__(self, message: str, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"{message} (Zeile {line})" if line else message)


@dataclass(frozen=True)
class Balance:
    """One ``Bal`` of a statement. ``amount`` is signed: debit balances are negative."""

    type: str
    amount: Decimal
    currency: str
    date: date | None


@dataclass
class StatementInfo:
    """Header data of one ``Stmt`` (shared by all its entries)."""

    version: str
    message_id: str
    created_at: datetime | None
    statement_id: str
    electronic_seq: str | None
    legal_seq: str | None
    account_iban: str
    account_other: str
    account_currency: str
    account_owner: str
    servicer_bic: str
    from_date: datetime | None
    to_date: datetime | None
    balances: list[Balance] = field(default_factory=list)
    statement_created_at: datetime | None = None
    line: int | None = None

    def balance(self, type_: str) -> Balance | None:
        """The first balance of the given type (e.g. ``"OPBD"``, ``"CLBD"``), or None."""
        for bal in self.balances:
            if bal.type == type_:
                return bal
        return None


@dataclass
class Transaction:
    """One ``TxDtls`` (or the entry itself when it has none): the unit that is matched.

    ``amount`` is ``TxDtls/Amt`` (v03+), else ``AmtDtls/TxAmt/Amt``, else ``AmtDtls/InstdAmt/Amt``,
    else the entry amount if the entry has exactly one transaction. It is ``None`` only for a
    batch booking whose transactions carry no amount at all. ``currency`` belongs to that amount
    (it may differ from the entry's). ``bank_tx_code``/``proprietary_code`` fall back to the
    entry's codes when the ``TxDtls`` has none. ``synthesised`` is True when the entry had no
    ``TxDtls`` and this transaction was made from the entry (remittance etc. are then empty; see
    ``Entry.additional_info``).
    """

    amount: Decimal | None
    currency: str
    end_to_end_id: str = ""
    mandate_id: str = ""
    creditor_reference: str = ""
    remittance: str = ""
    debtor_name: str = ""
    debtor_iban: str = ""
    ultimate_debtor: str = ""
    creditor_name: str = ""
    creditor_iban: str = ""
    ultimate_creditor: str = ""
    bank_tx_code: str = ""
    proprietary_code: str = ""
    return_reason: str = ""
    index: int = 0
    synthesised: bool = False
    # the Kassenzeichen candidates of this payment, when the parser process computed them already
    # (`parse_camt053_parallel`); None = not computed
    kz_candidates: list[str] | None = field(default=None, repr=False, compare=False)


@dataclass
class Entry:
    """One ``Ntry`` (booking line) of a statement."""

    statement: StatementInfo
    index: int
    amount: Decimal
    currency: str
    credit: bool
    reversal: bool
    status: str
    booking_date: date | None
    value_date: date | None
    account_servicer_ref: str
    bank_tx_code: str
    proprietary_code: str
    additional_info: str
    transactions: list[Transaction]
    line: int
    # `fingerprint()` as the parser process computed it (`parse_camt053_parallel`); None = not computed
    precomputed_fingerprint: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def signed_amount(self) -> Decimal:
        """The amount with its direction: credits positive, debits negative."""
        return self.amount if self.credit else -self.amount

    def fingerprint(self) -> str:
        """Stable SHA-256 (hex) identifying this booking, independent of the file it came in.

        Used to recognise the same entry uploaded twice, also inside a different statement
        (e.g. a day's statement re-delivered as part of a month's). It covers, in this order:

        1. a format tag ``"camt-entry-v1"``;
        2. the account: the normalised IBAN, or ``Othr/Id`` when there is no IBAN;
        3. booking date and value date (ISO ``YYYY-MM-DD`` or ``""``);
        4. the amount, canonicalised to five decimals (so ``8.85`` and ``8.850`` agree);
        5. currency, ``"CRDT"``/``"DBIT"``, the reversal flag;
        6. ``AcctSvcrRef`` (the bank's booking reference, ``""`` if absent);
        7. for every transaction in order: end-to-end id, remittance text, debtor IBAN.

        Not included: statement/message ids, sequence numbers, the position in the file, the
        status (a pending entry later booked usually differs in booking date anyway), balances.
        Two genuinely separate but identical bookings (same day, payer, amount and text, no
        ``AcctSvcrRef``) get the same fingerprint; callers should number equal fingerprints
        within one statement (first, second, ... occurrence) if that matters.
        """
        st = self.statement
        reversal = "true" if self.reversal is True else "false" if self.reversal is False else None
        if reversal is not None:
            # the JSON below written directly, string by string with json's own (C) string encoder: the same
            # bytes as the encoder (tests compare both), without building the list and an encoder per entry
            enc = _json_string
            direction = '"CRDT"' if self.credit else '"DBIT"'
            try:
                txs = ",".join(f"[{enc(tx.end_to_end_id)},{enc(tx.remittance)},{enc(tx.debtor_iban)}]"
                               for tx in self.transactions)
                data = (f'["camt-entry-v1",{enc(st.account_iban or st.account_other)},'
                        f'{enc(self.booking_date.isoformat() if self.booking_date else "")},'
                        f'{enc(self.value_date.isoformat() if self.value_date else "")},'
                        f'{enc(_canonical_amount(self.amount))},{enc(self.currency)},'
                        f"{direction},{reversal},"
                        f"{enc(self.account_servicer_ref)},[{txs}]]")
                return hashlib.sha256(data.encode("utf-8")).hexdigest()
            except TypeError:  # a field that is no str (not from the parser): the encoder decides
                pass
        return hashlib.sha256(self._fingerprint_json().encode("utf-8")).hexdigest()

    def _fingerprint_json(self) -> str:
        parts: list[Any] = [
            "camt-entry-v1",
            self.statement.account_iban or self.statement.account_other,
            self.booking_date.isoformat() if self.booking_date else "",
            self.value_date.isoformat() if self.value_date else "",
            _canonical_amount(self.amount),
            self.currency,
            "CRDT" if self.credit else "DBIT",
            self.reversal,
            self.account_servicer_ref,
            [[tx.end_to_end_id, tx.remittance, tx.debtor_iban] for tx in self.transactions],
        ]
        return _FINGERPRINT_JSON.encode(parts)  # = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))


# --------------------------------------------------------------------------- helpers


_FINGERPRINT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json_string = json.encoder.encode_basestring  # how that encoder writes a str (ensure_ascii=False)


def _canonical_amount(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.00001")))


def normalise_iban(value: str | None) -> str:
    """Upper-case an IBAN and remove all whitespace. Does not validate the check digits."""
    if not value:
        return ""
    return "".join(value.split()).upper()


def parse_amount(text: str | None, *, line: int | None = None) -> Decimal:
    """Parse an ISO 20022 ``ActiveOrHistoricCurrencyAndAmount`` value.

    Accepts digits with an optional ``.`` and at most five fraction digits (at most 18 digits
    in all). Rejects negative numbers, exponents, commas, signs and anything else.
    """
    raw = (text or "").strip()
    if not raw:
        raise CamtError("Ein Betrag fehlt (leeres Element Amt).", line)
    if not _AMOUNT_RE.fullmatch(raw):
        if raw.startswith("-"):
            msg = (
                f"Negativer Betrag „{raw}“ ist nicht zulässig; "
                "die Richtung steht in CdtDbtInd (CRDT/DBIT)."
            )
        elif "," in raw:
            msg = f"Ungültiger Betrag „{raw}“: das Dezimaltrennzeichen muss ein Punkt sein."
        else:
            msg = (
                f"Ungültiger Betrag „{_short(raw)}“: erlaubt sind nur Ziffern mit "
                "höchstens fünf Nachkommastellen (Punkt als Dezimaltrennzeichen)."
            )
        raise CamtError(msg, line)
    whole, _, frac = raw.partition(".")
    if len(frac) > 5:
        raise CamtError(
            f"Ungültiger Betrag „{_short(raw)}“: {len(frac)} Nachkommastellen, höchstens fünf sind erlaubt.",
            line,
        )
    if len(whole.lstrip("0")) + len(frac) > 18:
        raise CamtError(f"Ungültiger Betrag „{_short(raw)}“: mehr als 18 Ziffern.", line)
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - excluded by the regex
        raise CamtError(f"Ungültiger Betrag „{_short(raw)}“.", line) from None


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _tz(offset: str | None) -> timezone | None:
    if not offset:
        return None
    if offset == "Z":
        return UTC
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _parse_date(text: str | None, line: int | None) -> date:
    raw = (text or "").strip()
    m = _DATE_RE.fullmatch(raw)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            pass
    raise CamtError(f"Ungültiges Datum „{_short(raw)}“ (erwartet JJJJ-MM-TT).", line)


def _parse_datetime(text: str | None, line: int | None) -> datetime:
    raw = (text or "").strip()
    m = _DATETIME_RE.fullmatch(raw)
    if m:
        micro = int((m[7] or "0")[:6].ljust(6, "0"))
        try:
            return datetime(
                int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]), micro, tzinfo=_tz(m[8])
            )
        except ValueError:
            pass
    raise CamtError(
        f"Ungültiger Zeitpunkt „{_short(raw)}“ (erwartet JJJJ-MM-TTThh:mm:ss, optional mit Zeitzone).",
        line,
    )


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
        return f"Die camt.053-Datei hat einen unbekannten Namensraum „{_short(ns, 80)}“."
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
        f"Die Datei ist kein camt.053-Kontoauszug (Namensraum „{_short(ns, 80)}“, "
        f"Element „{_short(local)}“)."
    )


# --------------------------------------------------------------------------- reading


class _CountingReader:
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


def _syntax_error(exc: etree.XMLSyntaxError, *, at_end: bool = False) -> CamtError:
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


def _make_parser(events: tuple[str, ...], tags: list[str] | None = None) -> etree.XMLPullParser:
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


def _sniff(chunks: Iterator[bytes]) -> tuple[str, str, list[bytes]]:
    """Read until the root and the message element have started; return (ns, local name, chunks)."""
    parser = _make_parser(("start", "pi"))
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
                    raise CamtError(
                        "Die Datei enthält eine Verarbeitungsanweisung (<?…?>); "
                        "das ist in Kontoauszügen nicht zulässig.",
                        el.sourceline,
                    )
                if not started:
                    _check_prolog(el)
                started.append(el)
                if len(started) >= 2:
                    break
        except etree.XMLSyntaxError as exc:
            raise _syntax_error(exc) from None
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
            raise _syntax_error(exc) from None
        if not started:  # pragma: no cover - close() raises on an empty document
            raise CamtError("Die Datei ist kein XML.")
    root = started[0]
    ns, local = _split(root.tag)
    if local != "Document":
        if len(started) < 2 and local in MESSAGE_ELEMENTS:
            raise CamtError(_describe_namespace(ns, local), root.sourceline)
        raise CamtError(
            f"Die Datei ist kein camt.053-Kontoauszug: Wurzelelement „{_short(local)}“ statt „Document“.",
            root.sourceline,
        )
    if len(started) < 2:
        raise CamtError("Die Datei enthält kein Nachrichtenelement unter „Document“.", root.sourceline)
    msg_ns, msg_local = _split(started[1].tag)
    version = ns[len(NS_PREFIX) :] if ns.startswith(NS_PREFIX) else ""
    if version not in SUPPORTED_VERSIONS or msg_local != "BkToCstmrStmt" or msg_ns != ns:
        if version in SUPPORTED_VERSIONS and msg_local != "BkToCstmrStmt":
            if msg_local in MESSAGE_ELEMENTS:
                raise CamtError(_describe_namespace("", msg_local), started[1].sourceline)
            raise CamtError(
                f"Die Datei ist kein camt.053-Kontoauszug: unter „Document“ steht „{_short(msg_local)}“ "
                "statt „BkToCstmrStmt“.",
                started[1].sourceline,
            )
        raise CamtError(_describe_namespace(ns, msg_local), root.sourceline)
    return ns, version, buffered


def _split(tag: Any) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", str(tag)
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


class _Paths:
    """Clark-notation tag names and ElementPath expressions for one namespace."""

    def __init__(self, ns: str) -> None:
        q = "{" + ns + "}"
        self.q = q

        def p(path: str) -> str:
            return "/".join(q + part for part in path.split("/"))

        self.p = p
        self.Document = q + "Document"
        self.BkToCstmrStmt = q + "BkToCstmrStmt"
        self.GrpHdr = q + "GrpHdr"
        self.Stmt = q + "Stmt"
        self.Ntry = q + "Ntry"


# --------------------------------------------------------------------------- element reading


def _text(el: etree._Element | None) -> str:
    if el is None or el.text is None:
        return ""
    return el.text.strip()


def _children(el: etree._Element) -> dict[Any, etree._Element]:
    """Direct children by Clark tag (the first of repeated tags wins)."""
    kids: dict[Any, etree._Element] = {}
    for child in el:
        kids.setdefault(child.tag, child)
    return kids


class _Reader:
    """Turns the elements of one document (one namespace) into dataclasses."""

    def __init__(self, ns: str, version: str) -> None:
        self.version = version
        P = _Paths(ns)
        self.P = P
        self.p = p = P.p
        self.q = P.q
        # Statement header
        self.grp_msgid = p("MsgId")
        self.grp_credttm = p("CreDtTm")
        # Balances
        self.amt = p("Amt")
        self.cdtdbt = p("CdtDbtInd")
        self.dt = p("Dt")
        names = (
            "Amt CdtDbtInd RvslInd Sts Cd Prtry BookgDt ValDt AcctSvcrRef BkTxCd AddtlNtryInf NtryDtls "
            "TxDtls Domn Fmly SubFmlyCd Refs EndToEndId MndtId AmtDtls TxAmt InstdAmt RmtInf Ustrd Strd "
            "CdtrRefInf Ref AddtlRmtInf RltdPties Dbtr UltmtDbtr Cdtr UltmtCdtr DbtrAcct CdtrAcct Nm Pty "
            "Id IBAN RtrInf Rsn Dt DtTm"
        ).split()
        self.t = type("Tags", (), {name: self.q + name for name in names})()
        # checked values by their text (bounded): amount -> Decimal, date -> date, Ccy attribute -> currency
        self._amounts: dict[str | None, Decimal] = {}
        self._dates: dict[str | None, date] = {}
        self._currencies: dict[str | None, str] = {}

    # -- small pieces

    def amount(self, el: etree._Element | None, what: str, line: int | None) -> tuple[Decimal, str]:
        if el is None:
            raise CamtError(f"{what}: das Pflichtelement Amt (Betrag) fehlt.", line)
        # amounts and currencies repeat (an entry's amount is its transaction's): each text is checked and
        # converted once (Decimal is immutable, the same object can serve every entry)
        text = el.text
        value = self._amounts.get(text)
        if value is None:
            value = parse_amount(text, line=el.sourceline or line)
            if len(self._amounts) >= _CACHE_SIZE:
                self._amounts.clear()
            self._amounts[text] = value
        raw = el.get("Ccy")
        ccy = self._currencies.get(raw)
        if ccy is None:
            line = el.sourceline or line
            ccy = (raw or "").strip()
            if not _CCY_RE.fullmatch(ccy):
                if not ccy:
                    raise CamtError(f"{what}: beim Betrag fehlt die Währung (Attribut Ccy).", line)
                raise CamtError(f"{what}: ungültige Währung „{_short(ccy)}“ (erwartet drei Großbuchstaben).", line)
            if len(self._currencies) < _CACHE_SIZE:
                self._currencies[raw] = ccy
        return value, ccy

    def credit_debit(self, el: etree._Element | None, what: str, line: int | None) -> bool:
        value = _text(el)
        if value == "CRDT":
            return True
        if value == "DBIT":
            return False
        if el is None:
            raise CamtError(f"{what}: das Pflichtelement CdtDbtInd (Soll/Haben) fehlt.", line)
        raise CamtError(
            f"{what}: ungültiges Soll/Haben-Kennzeichen „{_short(value)}“ (erwartet CRDT oder DBIT).",
            el.sourceline or line,
        )

    def date_choice(self, el: etree._Element | None, line: int | None) -> date | None:
        """``Dt`` or ``DtTm`` inside ``el``; the date part of DtTm as written (its own offset)."""
        if el is None:
            return None
        t = self.t
        for child in el:
            tag = child.tag
            if tag == t.Dt:
                text = child.text
                value = self._dates.get(text)  # the same few days throughout a statement: parsed once each
                if value is None:
                    value = _parse_date(text, child.sourceline or line)
                    if len(self._dates) >= _CACHE_SIZE:
                        self._dates.clear()
                    self._dates[text] = value
                return value
            if tag == t.DtTm:
                return _parse_datetime(child.text, child.sourceline or line).date()
        return None

    def bank_codes(self, bktxcd: etree._Element | None) -> tuple[str, str]:
        if bktxcd is None:
            return "", ""
        t = self.t
        kids = _children(bktxcd)
        code = ""
        domn = kids.get(t.Domn)
        if domn is not None:
            dk = _children(domn)
            fmly = dk.get(t.Fmly)
            if fmly is not None:
                fk = _children(fmly)
                parts = (_text(dk.get(t.Cd)), _text(fk.get(t.Cd)), _text(fk.get(t.SubFmlyCd)))
                if all(parts):
                    code = "/".join(parts)
        prtry = kids.get(t.Prtry)
        return code, _text(_children(prtry).get(t.Cd)) if prtry is not None else ""

    def party_name(self, party: etree._Element | None) -> str:
        """``Nm`` of a party (v02-v06) or ``Pty/Nm`` (v07+)."""
        if party is None:
            return ""
        kids = _children(party)
        nm = kids.get(self.t.Nm)
        if nm is None:
            pty = kids.get(self.t.Pty)
            if pty is not None:
                nm = _children(pty).get(self.t.Nm)
        return _text(nm)

    def account_iban(self, acct: etree._Element | None) -> str:
        if acct is None:
            return ""
        id_el = _children(acct).get(self.t.Id)
        if id_el is None:
            return ""
        return normalise_iban(_text(_children(id_el).get(self.t.IBAN)))

    # -- statement header

    def group_header(self, el: etree._Element) -> tuple[str, datetime | None]:
        msgid = _text(el.find(self.grp_msgid))
        if not msgid:
            raise CamtError("Im Nachrichtenkopf (GrpHdr) fehlt die Nachrichtenkennung MsgId.", el.sourceline)
        cre = el.find(self.grp_credttm)
        created = _parse_datetime(cre.text, cre.sourceline) if cre is not None else None
        return msgid, created

    def statement(self, stmt: etree._Element, message_id: str, created_at: datetime | None) -> StatementInfo:
        """Read the header children of a ``Stmt`` (everything before the first ``Ntry``)."""
        q = self.q
        line = stmt.sourceline
        children: dict[str, etree._Element] = {}
        balances: list[Balance] = []
        for child in stmt:
            tag = child.tag
            if tag == q + "Ntry":
                break
            if not isinstance(tag, str) or not tag.startswith(q):
                continue
            local = tag[len(q) :]
            if local == "Bal":
                balances.append(self.balance(child))
            else:
                children.setdefault(local, child)
        stmt_id = _text(children.get("Id"))
        if not stmt_id:
            raise CamtError("Im Kontoauszug (Stmt) fehlt die Auszugskennung Id.", line)
        acct = children.get("Acct")
        if acct is None:
            raise CamtError("Im Kontoauszug fehlt die Kontoangabe (Acct).", line)
        iban = normalise_iban(_text(acct.find(self.p("Id/IBAN"))))
        other = _text(acct.find(self.p("Id/Othr/Id")))
        if not iban and not other:
            raise CamtError(
                "Im Kontoauszug fehlt die Kontonummer (Acct/Id/IBAN oder Acct/Id/Othr/Id).",
                acct.sourceline,
            )
        owner = acct.find(self.p("Ownr/Nm"))
        svcr = acct.find(self.p("Svcr/FinInstnId"))
        bic = ""
        if svcr is not None:
            bic = _text(svcr.find(self.p("BICFI"))) or _text(svcr.find(self.p("BIC")))
        from_date = to_date = None
        fr = children.get("FrToDt")
        if fr is not None:
            fr_el, to_el = fr.find(self.p("FrDtTm")), fr.find(self.p("ToDtTm"))
            if fr_el is not None:
                from_date = _parse_datetime(fr_el.text, fr_el.sourceline)
            if to_el is not None:
                to_date = _parse_datetime(to_el.text, to_el.sourceline)
        stmt_cre = children.get("CreDtTm")
        return StatementInfo(
            version=self.version,
            message_id=message_id,
            created_at=created_at,
            statement_id=stmt_id,
            electronic_seq=_text(children.get("ElctrncSeqNb")) or None,
            legal_seq=_text(children.get("LglSeqNb")) or None,
            account_iban=iban,
            account_other="" if iban else other,
            account_currency=_text(acct.find(self.p("Ccy"))),
            account_owner=_text(owner),
            servicer_bic=bic.upper(),
            from_date=from_date,
            to_date=to_date,
            balances=balances,
            statement_created_at=(
                _parse_datetime(stmt_cre.text, stmt_cre.sourceline) if stmt_cre is not None else None
            ),
            line=line,
        )

    def balance(self, el: etree._Element) -> Balance:
        line = el.sourceline
        tp = _text(el.find(self.p("Tp/CdOrPrtry/Cd"))) or _text(el.find(self.p("Tp/CdOrPrtry/Prtry")))
        amount, ccy = self.amount(el.find(self.amt), "Saldo", line)
        credit = self.credit_debit(el.find(self.cdtdbt), "Saldo", line)
        return Balance(
            type=tp,
            amount=amount if credit else -amount,
            currency=ccy,
            date=self.date_choice(el.find(self.dt), line),
        )

    # -- entries

    def entry(self, ntry: etree._Element, statement: StatementInfo, index: int) -> Entry:
        t = self.t
        line = ntry.sourceline or 0
        what = f"Buchung Nr. {index + 1}"
        kids: dict[Any, etree._Element] = {}
        details: list[etree._Element] = []
        for child in ntry:
            tag = child.tag
            if tag == t.NtryDtls:
                details.append(child)
            elif tag not in kids:
                kids[tag] = child
        amount, ccy = self.amount(kids.get(t.Amt), what, line)
        credit = self.credit_debit(kids.get(t.CdtDbtInd), what, line)
        rvsl = _text(kids.get(t.RvslInd)).lower()
        if rvsl not in ("", "true", "false", "1", "0"):
            raise CamtError(f"{what}: ungültiges Storno-Kennzeichen RvslInd „{_short(rvsl)}“.", line)
        sts_el = kids.get(t.Sts)
        if sts_el is None:
            raise CamtError(f"{what}: das Pflichtelement Sts (Buchungsstatus) fehlt.", line)
        status = _text(sts_el)
        if len(sts_el):  # v07+: Sts/Cd or Sts/Prtry
            sk = _children(sts_el)
            status = _text(sk.get(t.Cd)) or _text(sk.get(t.Prtry))
        if not status:
            raise CamtError(f"{what}: der Buchungsstatus (Sts) ist leer.", sts_el.sourceline or line)
        bank_tx_code, prtry_code = self.bank_codes(kids.get(t.BkTxCd))
        entry = Entry(
            statement=statement,
            index=index,
            amount=amount,
            currency=ccy,
            credit=credit,
            reversal=rvsl in ("true", "1"),
            status=status,
            booking_date=self.date_choice(kids.get(t.BookgDt), line),
            value_date=self.date_choice(kids.get(t.ValDt), line),
            account_servicer_ref=_text(kids.get(t.AcctSvcrRef)),
            bank_tx_code=bank_tx_code,
            proprietary_code=prtry_code,
            additional_info=_text(kids.get(t.AddtlNtryInf)),
            transactions=[],
            line=line,
        )
        tx_elements = [tx for dtls in details for tx in dtls.iterchildren(t.TxDtls)]
        if not tx_elements:
            entry.transactions.append(
                Transaction(
                    amount=amount,
                    currency=ccy,
                    bank_tx_code=bank_tx_code,
                    proprietary_code=prtry_code,
                    index=0,
                    synthesised=True,
                )
            )
            return entry
        single = len(tx_elements) == 1
        for i, tx in enumerate(tx_elements):
            entry.transactions.append(self.transaction(tx, entry, i, single))
        return entry

    def transaction(self, tx: etree._Element, entry: Entry, index: int, single: bool) -> Transaction:
        t = self.t
        line = tx.sourceline or entry.line
        what = f"Buchung Nr. {entry.index + 1}, Einzelumsatz Nr. {index + 1}"
        kids = _children(tx)
        amount: Decimal | None = None
        ccy = ""
        amt_el = kids.get(t.Amt)
        if amt_el is None:
            amt_dtls = kids.get(t.AmtDtls)
            if amt_dtls is not None:
                ak = _children(amt_dtls)
                holder = ak.get(t.TxAmt)
                if holder is None:
                    holder = ak.get(t.InstdAmt)
                if holder is not None:
                    amt_el = _children(holder).get(t.Amt)
                    if amt_el is None:
                        raise CamtError(f"{what}: das Pflichtelement Amt (Betrag) fehlt.", holder.sourceline)
        if amt_el is not None:
            amount, ccy = self.amount(amt_el, what, line)
        elif single:
            amount, ccy = entry.amount, entry.currency
        else:
            ccy = entry.currency
        end_to_end = mandate = ""
        refs = kids.get(t.Refs)
        if refs is not None:
            rk = _children(refs)
            end_to_end = _text(rk.get(t.EndToEndId))
            if end_to_end.upper() == "NOTPROVIDED":
                end_to_end = ""
            mandate = _text(rk.get(t.MndtId))
        lines: list[str] = []
        creditor_reference = ""
        rmtinf = kids.get(t.RmtInf)
        if rmtinf is not None:
            for child in rmtinf:
                tag = child.tag
                if tag == t.Ustrd:
                    if child.text and child.text.strip():
                        lines.append(child.text)
                elif tag == t.Strd:
                    for part in child:
                        ptag = part.tag
                        if ptag == t.CdtrRefInf:
                            if not creditor_reference:
                                creditor_reference = _text(_children(part).get(t.Ref))
                        elif ptag == t.AddtlRmtInf and part.text and part.text.strip():
                            lines.append(part.text)
        parties = kids.get(t.RltdPties)
        pk = _children(parties) if parties is not None else {}
        bank_tx_code, prtry_code = self.bank_codes(kids.get(t.BkTxCd))
        return_reason = ""
        rtr = kids.get(t.RtrInf)
        if rtr is not None:
            rsn = _children(rtr).get(t.Rsn)
            if rsn is not None:
                rsk = _children(rsn)
                return_reason = _text(rsk.get(t.Cd)) or _text(rsk.get(t.Prtry))
        return Transaction(
            amount=amount,
            currency=ccy,
            end_to_end_id=end_to_end,
            mandate_id=mandate,
            creditor_reference=creditor_reference,
            remittance="\n".join(lines),
            debtor_name=self.party_name(pk.get(t.Dbtr)),
            debtor_iban=self.account_iban(pk.get(t.DbtrAcct)),
            ultimate_debtor=self.party_name(pk.get(t.UltmtDbtr)),
            creditor_name=self.party_name(pk.get(t.Cdtr)),
            creditor_iban=self.account_iban(pk.get(t.CdtrAcct)),
            ultimate_creditor=self.party_name(pk.get(t.UltmtCdtr)),
            bank_tx_code=bank_tx_code or entry.bank_tx_code,
            proprietary_code=prtry_code or entry.proprietary_code,
            return_reason=return_reason,
            index=index,
        )


# --------------------------------------------------------------------------- driver


def _iter_document(source: Any, max_bytes: int, want_entries: bool) -> Iterator[Entry | StatementInfo]:
    reader = _CountingReader(source, max_bytes)
    etree.clear_error_log()  # so that a syntax error's log shows this parse's errors only
    try:
        chunks = reader.chunks()
        ns, version, buffered = _sniff(chunks)
        R = _Reader(ns, version)
        P = R.P
        parser = _make_parser(("start", "end", "pi"), [P.GrpHdr, P.Stmt, P.Ntry, P.BkToCstmrStmt])
        state = _State()

        def all_chunks() -> Iterator[bytes]:
            yield from buffered
            buffered.clear()
            yield from chunks

        for chunk in all_chunks():
            try:
                parser.feed(chunk)
                events = parser.read_events()
                yield from _handle(events, R, state, want_entries)
            except etree.XMLSyntaxError as exc:
                raise _syntax_error(exc) from None
        try:
            parser.close()
        except etree.XMLSyntaxError as exc:
            raise _syntax_error(exc, at_end=True) from None
        yield from _handle(parser.read_events(), R, state, want_entries)
        if not state.seen_message:  # pragma: no cover - sniffing guarantees it
            raise CamtError("Die Datei enthält keinen Kontoauszug (BkToCstmrStmt).")
    finally:
        reader.close()


class _State:
    def __init__(self) -> None:
        self.message_id = ""
        self.created_at: datetime | None = None
        self.seen_header = False
        self.seen_message = False
        self.statements = 0
        self.stmt: etree._Element | None = None
        self.info: StatementInfo | None = None
        self.index = 0


def _handle(events: Any, R: _Reader, state: _State, want_entries: bool) -> Iterator[Entry | StatementInfo]:
    P = R.P
    for event, el in events:
        if event == "pi":
            raise CamtError(
                "Die Datei enthält eine Verarbeitungsanweisung (<?…?>); "
                "das ist in Kontoauszügen nicht zulässig.",
                el.sourceline,
            )
        tag = el.tag
        if event == "start":
            if tag == P.Stmt:
                parent = el.getparent()
                if parent is None or parent.tag != P.BkToCstmrStmt:
                    raise CamtError("Element Stmt an unerwarteter Stelle.", el.sourceline)
                if not state.seen_header:
                    raise CamtError("Der Nachrichtenkopf (GrpHdr) fehlt vor dem Kontoauszug.", el.sourceline)
                state.stmt = el
                state.info = None
                state.index = 0
            elif tag == P.BkToCstmrStmt:
                state.seen_message = True
            continue
        # end events
        if tag == P.Ntry:
            if state.stmt is None or el.getparent() is not state.stmt:
                raise CamtError("Element Ntry an unerwarteter Stelle.", el.sourceline)
            if state.info is None:
                state.info = R.statement(state.stmt, state.message_id, state.created_at)
                if not want_entries:
                    yield state.info
            if want_entries:
                try:
                    entry = R.entry(el, state.info, state.index)
                except CamtError as exc:
                    if exc.message.startswith("Buchung Nr."):
                        raise
                    raise CamtError(f"Buchung Nr. {state.index + 1}: {exc.message}", exc.line) from None
                yield entry
            state.index += 1
            _discard(el)
        elif tag == P.Stmt:
            if state.info is None:
                state.info = R.statement(el, state.message_id, state.created_at)
                if not want_entries:
                    yield state.info
            state.statements += 1
            state.stmt = None
            _discard(el)
        elif tag == P.GrpHdr:
            if el.getparent() is None or el.getparent().tag != P.BkToCstmrStmt:
                raise CamtError("Element GrpHdr an unerwarteter Stelle.", el.sourceline)
            state.message_id, state.created_at = R.group_header(el)
            state.seen_header = True
        elif tag == P.BkToCstmrStmt:
            if not state.seen_header:
                raise CamtError("Der Nachrichtenkopf (GrpHdr) fehlt.", el.sourceline)
            if state.statements == 0:
                raise CamtError(
                    "Die Datei enthält keinen Kontoauszug: das Element Stmt fehlt.", el.sourceline
                )


def _discard(el: etree._Element) -> None:
    """Free the memory of a processed element and of everything before it in its parent."""
    el.clear(keep_tail=False)
    parent = el.getparent()
    if parent is None:
        return
    while el.getprevious() is not None:
        del parent[0]


def parse_camt053(source: Any, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[Entry]:
    """Parse a camt.053 statement file and yield its entries, statement by statement.

    ``source`` is ``bytes``, a path (``str``/``PathLike``) or a binary file object. Memory stays
    bounded for any number of entries. Raises :class:`CamtError` lazily, while iterating, on any
    problem (so entries before the problem may already have been yielded; callers importing
    into a database should do so in one transaction or collect first).
    """
    for item in _iter_document(source, max_bytes, want_entries=True):
        assert isinstance(item, Entry)
        yield item


def read_statement_infos(source: Any, *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[StatementInfo]:
    """Read only the statement headers (account, balances, ids) of a camt.053 file.

    Streams through the whole file (so the file is checked completely) without building entries.
    """
    return [item for item in _iter_document(source, max_bytes, want_entries=False)]  # type: ignore[misc]
