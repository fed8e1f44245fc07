"""Streaming writer for ISO 20022 camt.053 bank statements (versions 001.02 to 001.08).

Used by the tests, the demo ("generate a test statement for an open receivable") and the
benchmark. Entries are written one by one with ``lxml.etree.xmlfile``, so a statement with
hundreds of thousands of entries never exists as one tree in memory.

Version differences handled here (checked against the official XSDs; 05-07 via the camt.052
schemas of the same release, which share the entry types):

* ``Sts``: plain code (``<Sts>BOOK</Sts>``) up to 001.06, ``<Sts><Cd>BOOK</Cd></Sts>`` from 001.07.
* parties: ``<Dbtr><Nm>`` up to 001.06, ``<Dbtr><Pty><Nm>`` from 001.07.
* BIC element: ``BIC`` in 001.02, ``BICFI`` from 001.03.
* ``TxDtls/Amt`` + ``CdtDbtInd``: absent in 001.02 (the amount goes to ``AmtDtls/TxAmt``),
  mandatory in 001.03-001.06, optional from 001.07 (always written).
* ``TxsSummry/TtlNtries``: ``TtlNetNtryAmt`` + ``CdtDbtInd`` in 001.02/001.03,
  ``TtlNetNtry/Amt`` + ``CdtDbtInd`` from 001.04.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from lxml import etree

from .camt_model import NS_PREFIX, SUPPORTED_VERSIONS, normalise_iban

__all__ = ["WriterEntry", "WriterTransaction", "split_remittance", "write_camt053"]

USTRD_MAX = 140


@dataclass
class WriterTransaction:
    """One ``TxDtls`` of a batch booking (Sammelbuchung)."""

    amount: Decimal
    remittance: str = ""
    end_to_end_id: str = "NOTPROVIDED"
    mandate_id: str = ""
    creditor_reference: str = ""
    debtor_name: str = ""
    debtor_iban: str = ""
    ultimate_debtor: str = ""
    creditor_name: str = ""
    creditor_iban: str = ""
    ultimate_creditor: str = ""
    return_reason: str = ""


@dataclass
class WriterEntry:
    """One ``Ntry``. Without ``transactions`` the entry gets one ``TxDtls`` from its own fields."""

    amount: Decimal
    booking_date: date
    credit: bool = True
    value_date: date | None = None  # defaults to booking_date
    remittance: str = ""
    end_to_end_id: str = "NOTPROVIDED"
    mandate_id: str = ""
    creditor_reference: str = ""
    debtor_name: str = ""
    debtor_iban: str = ""
    ultimate_debtor: str = ""
    creditor_name: str = ""
    creditor_iban: str = ""
    ultimate_creditor: str = ""
    account_servicer_ref: str = ""
    proprietary_code: str | None = None  # default: "NTRF+166" (credit) / "NTRF+116" (debit)
    bank_tx_code: str | None = None  # default: "PMNT/RCDT/ESCT" (credit) / "PMNT/ICDT/ESCT" (debit)
    status: str = "BOOK"
    reversal: bool = False
    return_reason: str = ""
    additional_info: str = ""
    transactions: list[WriterTransaction] | None = None
    with_details: bool = True  # False: no NtryDtls at all (the parser synthesises a transaction)


def split_remittance(text: str) -> list[str]:
    """Split remittance text into ``Ustrd`` lines: at line breaks, then every 140 characters."""
    lines: list[str] = []
    for part in text.splitlines():
        while len(part) > USTRD_MAX:
            lines.append(part[:USTRD_MAX])
            part = part[USTRD_MAX:]
        if part.strip():
            lines.append(part)
    return lines


def _amount_text(amount: Decimal | int | str) -> str:
    value = Decimal(str(amount))
    if value < 0:
        raise ValueError(f"amounts are written unsigned (direction in CdtDbtInd), got {value}")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -5:
        raise ValueError(f"at most five fraction digits allowed, got {value}")
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


def _max(text: str, limit: int, what: str) -> str:
    if len(text) > limit:
        raise ValueError(f"{what} longer than {limit} characters: {text!r}")
    return text


class _Builder:
    """Builds one ``Ntry`` subtree (unqualified tags, see ``write_camt053``) for a version."""

    def __init__(self, version: str, currency: str) -> None:
        self.n = int(version.rsplit(".", 1)[1])
        self.ccy = currency

    @staticmethod
    def sub(parent: etree._Element, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
        el = etree.SubElement(parent, tag, attrib)
        if text is not None:
            el.text = text
        return el

    def amt(self, parent: etree._Element, amount: Decimal, tag: str = "Amt") -> None:
        self.sub(parent, tag, _amount_text(amount), Ccy=self.ccy)

    def date(self, parent: etree._Element, tag: str, value: date) -> None:
        self.sub(self.sub(parent, tag), "Dt", value.isoformat())

    def bank_codes(self, parent: etree._Element, code: str, prtry: str) -> None:
        bk = self.sub(parent, "BkTxCd")
        if code:
            domn, fmly, sub = code.split("/")
            d = self.sub(bk, "Domn")
            self.sub(d, "Cd", domn)
            f = self.sub(d, "Fmly")
            self.sub(f, "Cd", fmly)
            self.sub(f, "SubFmlyCd", sub)
        if prtry:
            p = self.sub(bk, "Prtry")
            self.sub(p, "Cd", prtry)
            self.sub(p, "Issr", "DK")

    def party(self, parent: etree._Element, tag: str, name: str) -> None:
        el = self.sub(parent, tag)
        if self.n >= 7:
            el = self.sub(el, "Pty")
        self.sub(el, "Nm", _max(name, 140, "name"))

    def account(self, parent: etree._Element, tag: str, iban: str) -> None:
        self.sub(self.sub(self.sub(parent, tag), "Id"), "IBAN", normalise_iban(iban))

    def entry(self, e: WriterEntry) -> etree._Element:
        ntry = etree.Element("Ntry")
        self.amt(ntry, e.amount)
        self.sub(ntry, "CdtDbtInd", "CRDT" if e.credit else "DBIT")
        if e.reversal:
            self.sub(ntry, "RvslInd", "true")
        if self.n >= 7:
            self.sub(self.sub(ntry, "Sts"), "Cd", e.status)
        else:
            self.sub(ntry, "Sts", e.status)
        self.date(ntry, "BookgDt", e.booking_date)
        self.date(ntry, "ValDt", e.value_date or e.booking_date)
        if e.account_servicer_ref:
            self.sub(ntry, "AcctSvcrRef", _max(e.account_servicer_ref, 35, "account_servicer_ref"))
        code = e.bank_tx_code if e.bank_tx_code is not None else (
            "PMNT/RCDT/ESCT" if e.credit else "PMNT/ICDT/ESCT"
        )
        prtry = e.proprietary_code if e.proprietary_code is not None else (
            "NTRF+166" if e.credit else "NTRF+116"
        )
        self.bank_codes(ntry, code, prtry)
        if e.with_details:
            dtls = self.sub(ntry, "NtryDtls")
            txs = e.transactions
            if txs is None:
                txs = [
                    WriterTransaction(**{f.name: getattr(e, f.name) for f in fields(WriterTransaction)})
                ]
            else:
                btch = self.sub(dtls, "Btch")
                self.sub(btch, "NbOfTxs", str(len(txs)))
                self.amt(btch, sum((Decimal(str(t.amount)) for t in txs), Decimal(0)), "TtlAmt")
                self.sub(btch, "CdtDbtInd", "CRDT" if e.credit else "DBIT")
            for tx in txs:
                self.transaction(dtls, tx, e.credit)
        if e.additional_info:
            self.sub(ntry, "AddtlNtryInf", _max(e.additional_info, 500, "additional_info"))
        return ntry

    def transaction(self, parent: etree._Element, t: WriterTransaction, credit: bool) -> None:
        tx = self.sub(parent, "TxDtls")
        refs = self.sub(tx, "Refs")
        self.sub(refs, "EndToEndId", _max(t.end_to_end_id or "NOTPROVIDED", 35, "end_to_end_id"))
        if t.mandate_id:
            self.sub(refs, "MndtId", _max(t.mandate_id, 35, "mandate_id"))
        if self.n >= 3:
            self.amt(tx, t.amount)
            self.sub(tx, "CdtDbtInd", "CRDT" if credit else "DBIT")
        self.amt(self.sub(self.sub(tx, "AmtDtls"), "TxAmt"), t.amount)
        if any((t.debtor_name, t.debtor_iban, t.ultimate_debtor, t.creditor_name, t.creditor_iban,
                t.ultimate_creditor)):
            pties = self.sub(tx, "RltdPties")
            if t.debtor_name:
                self.party(pties, "Dbtr", t.debtor_name)
            if t.debtor_iban:
                self.account(pties, "DbtrAcct", t.debtor_iban)
            if t.ultimate_debtor:
                self.party(pties, "UltmtDbtr", t.ultimate_debtor)
            if t.creditor_name:
                self.party(pties, "Cdtr", t.creditor_name)
            if t.creditor_iban:
                self.account(pties, "CdtrAcct", t.creditor_iban)
            if t.ultimate_creditor:
                self.party(pties, "UltmtCdtr", t.ultimate_creditor)
        lines = split_remittance(t.remittance)
        if lines or t.creditor_reference:
            rmt = self.sub(tx, "RmtInf")
            for line in lines:
                self.sub(rmt, "Ustrd", line)
            if t.creditor_reference:
                ref = self.sub(self.sub(rmt, "Strd"), "CdtrRefInf")
                tp = self.sub(self.sub(ref, "Tp"), "CdOrPrtry")
                self.sub(tp, "Cd", "SCOR")
                self.sub(ref, "Ref", _max(t.creditor_reference, 35, "creditor_reference"))
        if t.return_reason:
            self.sub(self.sub(self.sub(tx, "RtrInf"), "Rsn"), "Cd", t.return_reason)


def _as_entry(item: WriterEntry | Mapping[str, Any]) -> WriterEntry:
    if isinstance(item, WriterEntry):
        return item
    data = dict(item)
    if data.get("transactions") is not None:
        data["transactions"] = [
            t if isinstance(t, WriterTransaction) else WriterTransaction(**t) for t in data["transactions"]
        ]
    return WriterEntry(**data)


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def write_camt053(
    fileobj: IO[bytes] | Any,
    *,
    version: str = "camt.053.001.08",
    account_iban: str,
    account_currency: str = "EUR",
    account_owner: str = "",
    servicer_bic: str = "",
    statement_id: str,
    message_id: str,
    created_at: datetime,
    opening_balance: Decimal,
    entries: Iterable[WriterEntry | Mapping[str, Any]],
    closing_balance: Decimal | None = None,
    statement_date: date | None = None,
    opening_date: date | None = None,
    from_to: tuple[datetime, datetime] | None = None,
    electronic_seq: int | None = None,
    legal_seq: int | None = None,
    pretty: bool = True,
) -> int:
    """Write one camt.053 message with one statement to ``fileobj`` (binary); return the entry count.

    Balances (``OPBD``, ``CLBD``) precede the entries in the format. With ``closing_balance=None``
    it is computed from the booked (``BOOK``) entries, which needs ``entries`` to be a sequence
    (a list); the statement then also gets a ``TxsSummry``. For streaming very many entries
    from an iterator pass the ``closing_balance`` yourself (no ``TxsSummry`` is written).
    Balances are signed (negative = debit balance). ``statement_date`` (default: the date of
    ``created_at``) is the date of both balances unless ``opening_date`` is given.
    """
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"unsupported version {version!r}; supported: {', '.join(SUPPORTED_VERSIONS)}")
    n = int(version.rsplit(".", 1)[1])
    ns = NS_PREFIX + version
    builder = _Builder(version, account_currency)
    summary: dict[str, Any] | None = None
    if closing_balance is None:
        if not isinstance(entries, Sequence):
            raise TypeError("closing_balance=None needs entries as a list (two passes)")
        entries = [_as_entry(e) for e in entries]
        credits = [e.amount for e in entries if e.status == "BOOK" and e.credit]
        debits = [e.amount for e in entries if e.status == "BOOK" and not e.credit]
        closing_balance = Decimal(opening_balance) + sum(credits, Decimal(0)) - sum(debits, Decimal(0))
        net = sum(credits, Decimal(0)) - sum(debits, Decimal(0))
        summary = {
            "count": len(entries),
            "sum": sum((e.amount for e in entries), Decimal(0)),
            "net": net,
            "credits": (len([e for e in entries if e.credit]), sum((e.amount for e in entries if e.credit), Decimal(0))),
            "debits": (len([e for e in entries if not e.credit]),
                       sum((e.amount for e in entries if not e.credit), Decimal(0))),
        }
    day = statement_date or created_at.date()
    count = 0
    E = builder.sub

    def put(xf: Any, el: etree._Element, level: int) -> None:
        if pretty:
            xf.write("\n" + "  " * level)
            etree.indent(el, space="  ", level=level)
        el.tail = None
        xf.write(el)

    def close(xf: Any, level: int) -> None:
        if pretty:
            xf.write("\n" + "  " * level)

    # The outer elements are written in the namespace with a default-namespace declaration on
    # Document. Subtrees are built with unqualified tag names: serialised inside the default
    # namespace scope they are textually `<Ntry>`, which an XML parser reads as being in the
    # camt namespace. This avoids repeating `xmlns` on every entry.
    with etree.xmlfile(fileobj, encoding="UTF-8") as xf:
        xf.write_declaration()
        with xf.element(f"{{{ns}}}Document", nsmap={None: ns}):
            close(xf, 1)
            with xf.element(f"{{{ns}}}BkToCstmrStmt"):
                grp = etree.Element("GrpHdr")
                E(grp, "MsgId", _max(message_id, 35, "message_id"))
                E(grp, "CreDtTm", _iso(created_at))
                pg = E(grp, "MsgPgntn")
                E(pg, "PgNb", "1")
                E(pg, "LastPgInd", "true")
                put(xf, grp, 2)
                close(xf, 2)
                with xf.element(f"{{{ns}}}Stmt"):
                    for el in _statement_head(
                        builder,
                        n,
                        statement_id=statement_id,
                        electronic_seq=electronic_seq,
                        legal_seq=legal_seq,
                        created_at=created_at,
                        from_to=from_to,
                        account_iban=account_iban,
                        account_currency=account_currency,
                        account_owner=account_owner,
                        servicer_bic=servicer_bic,
                        balances=(
                            ("OPBD", Decimal(opening_balance), opening_date or day),
                            ("CLBD", Decimal(closing_balance), day),
                        ),
                        summary=summary,
                    ):
                        put(xf, el, 3)
                    for item in entries:
                        put(xf, builder.entry(_as_entry(item)), 3)
                        count += 1
                    close(xf, 2)
                close(xf, 1)
            close(xf, 0)
    return count


def _summary(builder: _Builder, n: int, s: dict[str, Any]) -> etree._Element:
    E = builder.sub
    smry = etree.Element("TxsSummry")
    ttl = E(smry, "TtlNtries")
    E(ttl, "NbOfNtries", str(s["count"]))
    E(ttl, "Sum", _amount_text(s["sum"]))
    net: Decimal = s["net"]
    if n <= 3:
        E(ttl, "TtlNetNtryAmt", _amount_text(abs(net)))
        E(ttl, "CdtDbtInd", "DBIT" if net < 0 else "CRDT")
    else:
        tn = E(ttl, "TtlNetNtry")
        E(tn, "Amt", _amount_text(abs(net)))
        E(tn, "CdtDbtInd", "DBIT" if net < 0 else "CRDT")
    for tag, (cnt, total) in (("TtlCdtNtries", s["credits"]), ("TtlDbtNtries", s["debits"])):
        el = E(smry, tag)
        E(el, "NbOfNtries", str(cnt))
        E(el, "Sum", _amount_text(total))
    return smry


def _statement_head(
    builder: _Builder,
    n: int,
    *,
    statement_id: str,
    electronic_seq: int | None,
    legal_seq: int | None,
    created_at: datetime,
    from_to: tuple[datetime, datetime] | None,
    account_iban: str,
    account_currency: str,
    account_owner: str,
    servicer_bic: str,
    balances: Iterable[tuple[str, Decimal, date]],
    summary: dict[str, Any] | None,
) -> list[etree._Element]:
    """The children of ``Stmt`` before the entries, in schema order."""
    E = builder.sub

    def leaf(tag: str, text: str) -> etree._Element:
        el = etree.Element(tag)
        el.text = text
        return el

    head = [leaf("Id", _max(statement_id, 35, "statement_id"))]
    if n >= 4:
        pg = etree.Element("StmtPgntn")
        E(pg, "PgNb", "1")
        E(pg, "LastPgInd", "true")
        head.append(pg)
    if electronic_seq is not None:
        head.append(leaf("ElctrncSeqNb", str(electronic_seq)))
    if legal_seq is not None:
        head.append(leaf("LglSeqNb", str(legal_seq)))
    head.append(leaf("CreDtTm", _iso(created_at)))
    if from_to is not None:
        el = etree.Element("FrToDt")
        E(el, "FrDtTm", _iso(from_to[0]))
        E(el, "ToDtTm", _iso(from_to[1]))
        head.append(el)
    acct = etree.Element("Acct")
    E(E(acct, "Id"), "IBAN", normalise_iban(account_iban))
    E(acct, "Ccy", account_currency)
    if account_owner:
        E(E(acct, "Ownr"), "Nm", _max(account_owner, 140, "account_owner"))
    if servicer_bic:
        E(E(E(acct, "Svcr"), "FinInstnId"), "BIC" if n == 2 else "BICFI", servicer_bic)
    head.append(acct)
    for tp, amount, bal_day in balances:
        bal = etree.Element("Bal")
        E(E(E(bal, "Tp"), "CdOrPrtry"), "Cd", tp)
        builder.amt(bal, abs(amount))
        E(bal, "CdtDbtInd", "DBIT" if amount < 0 else "CRDT")
        E(E(bal, "Dt"), "Dt", bal_day.isoformat())
        head.append(bal)
    if summary is not None:
        head.append(_summary(builder, n, summary))
    return head
