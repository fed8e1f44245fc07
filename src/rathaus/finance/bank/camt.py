"""Hardened, streaming parser for ISO 20022 camt.053 bank statements (Kontoauszüge).

Supported message versions: camt.053.001.02 to camt.053.001.08, as delivered by German banks
(Deutsche Kreditwirtschaft, "DK" flavour) and others. Pure Python on top of lxml; no Django.

Design:

* The file is read in chunks, counted against ``max_bytes``, fed to a defensively configured
  ``lxml`` pull parser, and sniffed first for the wrong message type or format (`camt_xml`: the
  hardened input; DTDs, entities and processing instructions are refused).
* The pull parser only reports the few elements we need (``GrpHdr``, ``Stmt``, ``Ntry``), so the
  cost per entry is a handful of ``find`` calls. Every processed ``Ntry`` is cleared and its
  preceding siblings (header elements, earlier entries) are deleted, so memory stays bounded
  no matter how many entries the file holds.
* Errors are raised lazily, while iterating, as :class:`CamtError` with a German message and the
  source line where known.

Elements are matched by local name inside the namespace of the detected version. The records
(`Entry`, `Transaction`, `StatementInfo`, `Balance`) and `CamtError` are in `camt_model`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from .camt_model import Balance, CamtError, Entry, StatementInfo, Transaction, normalise_iban, shorten
from .camt_xml import PI_MESSAGE, CountingReader, make_parser, sniff, syntax_error

__all__ = ["parse_amount", "parse_camt053", "read_statement_infos"]

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_CACHE_SIZE = 4096  # checked amounts, dates, currencies remembered by their text (per document)

_AMOUNT_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_CCY_RE = re.compile(r"[A-Z]{3}")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?")
_DATETIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


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
                f"Ungültiger Betrag „{shorten(raw)}“: erlaubt sind nur Ziffern mit "
                "höchstens fünf Nachkommastellen (Punkt als Dezimaltrennzeichen)."
            )
        raise CamtError(msg, line)
    whole, _, frac = raw.partition(".")
    if len(frac) > 5:
        raise CamtError(
            f"Ungültiger Betrag „{shorten(raw)}“: {len(frac)} Nachkommastellen, höchstens fünf sind erlaubt.",
            line,
        )
    if len(whole.lstrip("0")) + len(frac) > 18:
        raise CamtError(f"Ungültiger Betrag „{shorten(raw)}“: mehr als 18 Ziffern.", line)
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - excluded by the regex
        raise CamtError(f"Ungültiger Betrag „{shorten(raw)}“.", line) from None


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
    raise CamtError(f"Ungültiges Datum „{shorten(raw)}“ (erwartet JJJJ-MM-TT).", line)


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
        f"Ungültiger Zeitpunkt „{shorten(raw)}“ (erwartet JJJJ-MM-TTThh:mm:ss, optional mit Zeitzone).",
        line,
    )


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
                raise CamtError(f"{what}: ungültige Währung „{shorten(ccy)}“ (erwartet drei Großbuchstaben).", line)
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
            f"{what}: ungültiges Soll/Haben-Kennzeichen „{shorten(value)}“ (erwartet CRDT oder DBIT).",
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
            raise CamtError(f"{what}: ungültiges Storno-Kennzeichen RvslInd „{shorten(rvsl)}“.", line)
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
    reader = CountingReader(source, max_bytes)
    etree.clear_error_log()  # so that a syntax error's log shows this parse's errors only
    try:
        chunks = reader.chunks()
        ns, version, buffered = sniff(chunks)
        R = _Reader(ns, version)
        P = R.P
        parser = make_parser(("start", "end", "pi"), [P.GrpHdr, P.Stmt, P.Ntry, P.BkToCstmrStmt])
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
                raise syntax_error(exc) from None
        try:
            parser.close()
        except etree.XMLSyntaxError as exc:
            raise syntax_error(exc, at_end=True) from None
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
            raise CamtError(PI_MESSAGE, el.sourceline)
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
