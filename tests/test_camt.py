"""camt.053 parser and writer (rathaus.finance.bank: camt, camt_model, camt_xml, writer). No database needed."""

from __future__ import annotations

import importlib.util
import io
import re
import tracemalloc
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from lxml import etree

from rathaus.finance.bank.camt import parse_amount, parse_camt053, read_statement_infos
from rathaus.finance.bank.camt_model import (
    SUPPORTED_VERSIONS,
    CamtError,
    Entry,
    StatementInfo,
    normalise_iban,
)
from rathaus.finance.bank.writer import WriterEntry, WriterTransaction, split_remittance, write_camt053

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "camt"
# public test data vendored into the repository (tests/corpora/SOURCES.md)
CORPORA = Path(__file__).resolve().parent / "corpora"
CAMT_CORPUS = CORPORA / "camt"
XSD_DIR = CORPORA / "schemas" / "iso20022"
VERSIONS = [f"camt.053.001.{n:02d}" for n in range(2, 9)]
IBAN = "DE02120300000000202051"
CET = timezone(timedelta(hours=1))


def load_fixture_module():
    spec = importlib.util.spec_from_file_location("camt_make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture(name: str) -> Path:
    return FIXTURES / name


def musterstadt(version: str = "camt.053.001.08") -> Path:
    return FIXTURES / f"musterstadt.{version}.xml"


def raises_camt(source, match: str, **kwargs) -> CamtError:
    with pytest.raises(CamtError, match=match) as info:
        list(parse_camt053(source, **kwargs))
    return info.value


# ----------------------------------------------------------------- XSD helpers

_schemas: dict[str, etree.XMLSchema] = {}


def schema(path: Path) -> etree.XMLSchema:
    key = str(path)
    if key not in _schemas:
        _schemas[key] = etree.XMLSchema(etree.parse(str(path)))
    return _schemas[key]


def assert_valid_053(data: bytes, version: str) -> None:
    """Validate against the official camt.053 XSD; for 05-07 (no camt.053 XSD in the corpora) against
    the camt.052 XSD of the same release after renaming the statement to a report (the entry types
    are shared between camt.052 and camt.053 of one release)."""
    direct = XSD_DIR / "genkgo-camt" / f"{version}.xsd"
    if direct.exists():
        xsd = schema(direct)
        assert xsd.validate(etree.fromstring(data)), xsd.error_log
        return
    proxy = as_camt052(data, version)
    n = version.rsplit(".", 1)[1]
    xsd = schema(XSD_DIR / "hbci4java" / f"camt.052.001.{n}.xsd")
    assert xsd.validate(proxy), xsd.error_log


def as_camt052(data: bytes, version: str) -> etree._Element:
    ns053 = f"urn:iso:std:iso:20022:tech:xsd:{version}"
    ns052 = ns053.replace("camt.053", "camt.052")
    renames = {"BkToCstmrStmt": "BkToCstmrAcctRpt", "Stmt": "Rpt", "StmtPgntn": "RptPgntn",
               "AddtlStmtInf": "AddtlRptInf"}
    root = etree.fromstring(data)
    out = etree.Element(f"{{{ns052}}}Document", nsmap={None: ns052})

    def copy(src: etree._Element, parent: etree._Element, depth: int) -> None:
        local = etree.QName(src).localname
        if depth <= 3:
            local = renames.get(local, local)
        el = etree.SubElement(parent, f"{{{ns052}}}{local}", dict(src.attrib))
        el.text = src.text
        for child in src:
            copy(child, el, depth + 1)

    assert root.tag == f"{{{ns053}}}Document"
    for child in root:
        copy(child, out, 1)
    return out


# ----------------------------------------------------------------- Musterstadt fixtures, all versions


@pytest.mark.parametrize("version", VERSIONS)
def test_musterstadt_fixture_every_version(version):
    entries = list(parse_camt053(musterstadt(version)))
    assert len(entries) == 6
    info = entries[0].statement
    assert all(e.statement is info for e in entries)
    assert [e.index for e in entries] == list(range(6))
    assert info.version == version
    assert info.account_iban == IBAN and info.account_other == ""
    assert info.servicer_bic == "BYLADEM1001"
    assert info.account_owner == "Stadt Musterstadt Stadtkasse"
    assert info.account_currency == "EUR"
    assert info.statement_id == f"2026-03-02-{version[-2:]}"
    assert info.electronic_seq == "42" and info.legal_seq == "42"
    assert info.created_at == datetime(2026, 3, 2, 18, 0, tzinfo=CET)
    assert info.from_date == datetime(2026, 3, 2, 0, 0, tzinfo=CET)
    assert [(b.type, b.amount, b.date) for b in info.balances] == [
        ("OPBD", Decimal("15234.56"), date(2026, 2, 27)),
        ("CLBD", Decimal("15470.36"), date(2026, 3, 2)),
    ]
    # booked entries add up to the closing balance
    booked = sum(e.signed_amount for e in entries if e.status == "BOOK")
    assert info.balance("OPBD").amount + booked == info.balance("CLBD").amount

    hund, grst, batch, ruecklast, storno, pending = entries
    assert (hund.amount, hund.credit, hund.status, hund.booking_date) == (
        Decimal("120.00"), True, "BOOK", date(2026, 3, 2))
    tx = hund.transactions[0]
    assert tx.remittance == "Kassenzeichen 2026-000123-45\nHundesteuer 2026"
    assert tx.end_to_end_id == ""  # NOTPROVIDED
    assert (tx.debtor_name, tx.debtor_iban) == ("Erika Mustermann", "DE89370400440532013000")
    assert (tx.bank_tx_code, tx.proprietary_code) == ("PMNT/RCDT/ESCT", "NTRF+166+931")
    assert hund.account_servicer_ref == "2026030200001"
    assert hund.additional_info == "GUTSCHR. UEBERWEISUNG"

    lines = grst.transactions[0].remittance.split("\n")
    assert len(lines) == 2 and len(lines[0]) == 140
    assert lines[0].startswith("KZ 202600012345 Grundsteuer B")
    assert grst.transactions[0].end_to_end_id == "E2E-20260302-0001"
    assert grst.transactions[0].ultimate_debtor == "Eigentuemergemeinschaft Schmidt"

    assert batch.amount == Decimal("80.50")
    assert [t.amount for t in batch.transactions] == [Decimal("25.00"), Decimal("40.00"), Decimal("15.50")]
    assert [t.index for t in batch.transactions] == [0, 1, 2]
    assert batch.transactions[1].remittance == "Kassenzeichen 2026-000201-87 Grundsteuer B"
    assert batch.transactions[1].mandate_id == "MS-GRST-000201"
    assert batch.transactions[2].bank_tx_code == "PMNT/IDDT/ESDD"

    assert (ruecklast.credit, ruecklast.reversal) == (False, False)
    assert ruecklast.transactions[0].return_reason == "AC04"
    assert ruecklast.proprietary_code == "NRTI+109+916"
    assert (storno.credit, storno.reversal) == (False, True)
    assert (pending.status, pending.booking_date) == ("PDNG", date(2026, 3, 3))


@pytest.mark.parametrize("version", VERSIONS)
def test_musterstadt_fixture_is_schema_valid(version):
    assert_valid_053(musterstadt(version).read_bytes(), version)


@pytest.mark.parametrize("version", ["camt.053.001.04", "camt.053.001.08"])
def test_camt052_proxy_validation_agrees_with_the_real_schema(version):
    """The proxy check used for 05-07 accepts what the real 04/08 schema accepts, and rejects errors."""
    data = musterstadt(version).read_bytes()
    n = version[-2:]
    xsd052 = schema(XSD_DIR / "hbci4java" / f"camt.052.001.{n}.xsd")
    assert xsd052.validate(as_camt052(data, version)), xsd052.error_log
    broken = data.replace(b"<CdtDbtInd>CRDT</CdtDbtInd>", b"<CdtDbtInd>CRED</CdtDbtInd>", 1)
    assert not xsd052.validate(as_camt052(broken, version))


def test_fixture_files_are_what_the_writer_produces(tmp_path):
    """The committed Musterstadt fixtures are exactly the writer's output (make_fixtures.py)."""
    for path in load_fixture_module().write_all(tmp_path):
        assert path.read_bytes() == (FIXTURES / path.name).read_bytes(), path.name


def test_same_entries_have_same_fingerprint_in_every_version():
    prints = {v: [e.fingerprint() for e in parse_camt053(musterstadt(v))] for v in VERSIONS}
    first = prints[VERSIONS[0]]
    assert len(set(first)) == 6
    assert all(re.fullmatch(r"[0-9a-f]{64}", fp) for fp in first)
    assert all(p == first for p in prints.values())


# ----------------------------------------------------------------- hand-made DK statement


def test_dk_handmade_statement():
    entries = list(parse_camt053(fixture("dk-handmade.camt.053.001.08.xml")))
    assert len(entries) == 2
    gewst, fee = entries
    info = gewst.statement
    assert info.message_id == "052D2026030507123456789"
    assert info.created_at == datetime(2026, 3, 5, 7, 12, 34, 123000, tzinfo=CET)
    assert [(b.type, b.amount, b.date) for b in info.balances] == [
        ("PRCD", Decimal("15470.36"), date(2026, 3, 3)),
        ("CLBD", Decimal("15719.86"), date(2026, 3, 4)),  # from DtTm
    ]
    # DtTm: the date part as written, not converted to UTC (would be 2026-03-05)
    assert gewst.booking_date == date(2026, 3, 4)
    tx = gewst.transactions[0]
    assert tx.amount == Decimal("249.50")  # InstdAmt only
    assert tx.remittance == "Gewerbesteuer-Vorauszahlung I/2026 Kassenzeichen 2026-0001\n23-45"
    assert tx.debtor_name == "Müller Bau GmbH & Co. KG"
    assert tx.debtor_iban == "DE75512108001245126199"  # normalised
    assert (tx.creditor_name, tx.creditor_iban) == ("Stadt Musterstadt", IBAN)
    assert tx.end_to_end_id == ""
    # second statement in the same message: other account (Othr/Id), own header object
    assert fee.statement is not info
    assert fee.index == 0
    assert (fee.statement.account_iban, fee.statement.account_other) == ("", "0000202052")
    assert fee.statement.message_id == info.message_id
    assert (fee.amount, fee.currency, fee.credit) == (Decimal("10.00"), "USD", False)
    assert fee.value_date is None
    assert fee.statement.balances[0].amount == Decimal("-10.00")
    synth = fee.transactions[0]
    assert synth.synthesised and synth.amount == Decimal("10.00") and synth.proprietary_code == "NCHG+808"
    infos = read_statement_infos(fixture("dk-handmade.camt.053.001.08.xml"))
    assert [i.statement_id for i in infos] == ["2026-03-04-0043", "2026-03-04-USD-0007"]


# ----------------------------------------------------------------- public corpora


def test_every_camt053_in_the_corpora_parses_or_is_the_known_invalid_one():
    files = sorted((CAMT_CORPUS / "genkgo-camt").glob("camt053*.xml")) + sorted(
        (CAMT_CORPUS / "genkgo-camt").glob("camt53*.xml"))
    assert len(files) >= 11
    for path in files:
        if path.name == "camt053.v2.wrong.xml":
            raises_camt(path, "das Element Stmt fehlt")
            continue
        entries = list(parse_camt053(path))
        infos = read_statement_infos(path)
        assert infos, path.name
        for e in entries:
            assert isinstance(e, Entry) and isinstance(e.statement, StatementInfo)
            assert e.transactions and e.amount >= 0


def test_corpus_minimal_v2():
    (e,) = parse_camt053(CAMT_CORPUS / "genkgo-camt" / "camt053.v2.minimal.xml")
    info = e.statement
    assert (info.version, info.account_iban, info.statement_id) == (
        "camt.053.001.02", "NL26VAYB8060476890", "253EURNL26VAYB8060476890")
    assert info.created_at == datetime(2015, 3, 10, 18, 43, 50, tzinfo=UTC)
    assert [(b.type, b.amount, b.currency) for b in info.balances] == [
        ("OPBD", Decimal("18.15"), "EUR"), ("CLBD", Decimal("-27.00"), "SEK"),
        ("OPAV", Decimal("35.00"), "CHF"), ("CLAV", Decimal("-2700"), "JPY"),
    ]
    assert (e.amount, e.credit, e.status, e.booking_date, e.value_date) == (
        Decimal("8.85"), True, "BOOK", date(2014, 12, 31), date(2015, 1, 2))
    assert e.proprietary_code == "544"
    tx = e.transactions[0]
    assert (tx.amount, tx.debtor_name, tx.debtor_iban, tx.creditor_name) == (
        Decimal("8.85"), "NAME NAME", "NL56AGDH9619008421", "Company Name")
    assert tx.creditor_reference == "4654654654654654"


def test_corpus_multi_statement():
    entries = list(parse_camt053(CAMT_CORPUS / "genkgo-camt" / "camt053.v2.multi.statement.xml"))
    assert [(e.statement.statement_id, e.index, e.amount, e.credit) for e in entries] == [
        ("253EURNL26VAYB8060476890", 0, Decimal("8.85"), True),
        ("254EURNL26VAYB8060476890", 0, Decimal("7.00"), False),
    ]
    assert entries[0].transactions[0].remittance == "Transaction Description 1"
    assert entries[1].transactions[0].remittance == "Transaction Description 2"
    assert entries[1].transactions[0].end_to_end_id == "000000002"
    assert entries[1].statement.balance("CLBD").amount == Decimal("20.00")


def test_corpus_five_decimals_and_only_dttm():
    (e,) = parse_camt053(CAMT_CORPUS / "genkgo-camt" / "camt053.v2.five.decimals.xml")
    assert e.amount == Decimal("8.850") and e.statement.balance("CLBD").amount == Decimal("27.050")
    assert e.transactions[0].remittance == "Transaction Description"
    assert e.transactions[0].creditor_iban == "NL56AGDH9619008421"
    path = CAMT_CORPUS / "genkgo-camt" / "camt53.only-Dt-with-DtTm.xml"
    assert list(parse_camt053(path)) == []
    (info,) = read_statement_infos(path)
    assert info.balances == [info.balances[0]]
    bal = info.balances[0]
    assert (bal.type, bal.amount, bal.currency, bal.date) == ("OPBD", Decimal("5442.09000"), "RON", date(2025, 7, 23))
    assert info.created_at == datetime(2025, 7, 24, 6, 10, 29)  # nanoseconds truncated, no zone


def test_corpus_v3_v4_v8():
    (e3,) = parse_camt053(CAMT_CORPUS / "genkgo-camt" / "camt053.v3.xml")
    assert (e3.statement.account_iban, e3.statement.account_other) == ("", "NL26VAYB8060476890")
    assert (e3.bank_tx_code, e3.proprietary_code) == ("PMNT/RCDT/DMCT", "025132131")
    assert e3.account_servicer_ref == "XXXXXXXXXXXXXXXXXXXXXXEUR"
    # TxDtls/Amt differs from the entry amount: both are kept as delivered
    assert (e3.amount, e3.transactions[0].amount) == (Decimal("8.85"), Decimal("105.750"))
    (e4,) = parse_camt053(CAMT_CORPUS / "genkgo-camt" / "camt053.v4.xml")
    assert (e4.transactions[0].amount, e4.transactions[0].currency, e4.currency) == (Decimal("0"), "SEK", "EUR")
    (e8,) = parse_camt053(CAMT_CORPUS / "genkgo-camt" / "camt053.v8.xml")
    assert e8.statement.version == "camt.053.001.08"
    assert (e8.status, e8.booking_date) == ("BOOK", date(2014, 12, 31))  # Sts/Cd, BookgDt/DtTm
    tx = e8.transactions[0]
    assert tx.end_to_end_id == "MUELL/FINP/RA12345"
    assert (tx.debtor_name, tx.creditor_name) == ("NAME NAME", "Company Name")  # Dbtr/Pty/Nm
    assert e8.statement.account_owner == "FINPETROL"
    assert e8.bank_tx_code == "PMNT/RCDT/BOOK"


def test_corpus_all_balance_types():
    (info,) = read_statement_infos(CAMT_CORPUS / "genkgo-camt" / "camt053.v2.all-balance-types.xml")
    assert [b.type for b in info.balances] == [
        "OPBD", "PRCD", "OPAV", "CLBD", "CLAV", "FWAV", "INFO", "ITAV", "ITBD", "XPCD"]
    assert info.account_other == "CH2801234000123456789"


def test_camt052_and_camt054_are_refused_with_a_clear_message():
    camt052 = sorted((CAMT_CORPUS / "genkgo-camt").glob("camt052*.xml")) + [
        CAMT_CORPUS / "hbci4java" / name for name in (
            "test-camt-parse-05200102.xml", "test-camt-parse-05200108.xml",
            "test-camt-parse-5200108-invalid-saldo.xml", "test-camt-parse-5200108-missing-date.xml",
            "test-camt-ruecklastschrift.xml")]
    for path in camt052:
        err = raises_camt(path, "camt.052")
        assert err.message == (
            "Das ist eine camt.052-Nachricht (Kontobericht), erwartet wird camt.053 (Kontoauszug).")
    for path in sorted((CAMT_CORPUS / "genkgo-camt").glob("camt054*.xml")):
        raises_camt(path, r"^Das ist eine camt\.054-Nachricht \(Soll-/Haben-Avis\), erwartet wird camt\.053")


@pytest.mark.parametrize("name", ["test-camt-parse-invalid.xml", "test-camt-parse-none.xml"])
def test_corpus_garbage_is_refused(name):
    raises_camt(CAMT_CORPUS / "hbci4java" / name, ".")


# ----------------------------------------------------------------- hostile input


@pytest.mark.parametrize("name", [
    "hostile-xxe.xml", "hostile-billion-laughs.xml", "hostile-external-dtd.xml",
])
def test_dtd_is_refused(name):
    err = raises_camt(fixture(name), "DTD/DOCTYPE")
    assert "root:" not in str(err)  # nothing of /etc/passwd


def test_dtd_in_utf16_is_refused():
    text = fixture("hostile-xxe.xml").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    raises_camt(text.encode("utf-16"), "DTD/DOCTYPE")


def test_processing_instruction_is_refused():
    err = raises_camt(fixture("hostile-processing-instruction.xml"), "Verarbeitungsanweisung")
    assert err.line == 2


def test_truncated_file():
    err = raises_camt(fixture("hostile-truncated.xml"), "unvollständig")
    assert err.line


@pytest.mark.parametrize(("data", "match"), [
    (b"", "leer"),
    (b"   \n", "leer"),
    (b"Kassenzeichen;Betrag\n2026-000123-45;120,00\n", "kein gültiges XML"),
    (b"\x00\x01\x02garbage", "kein gültiges XML"),
    (b"PK\x03\x04\x14\x00\x00\x00", "ZIP-Archiv"),
    (b"%PDF-1.7\n", "PDF"),
    (b"<html><body>Kontoauszug</body></html>", "Wurzelelement „html“"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"/>', "kein Nachrichtenelement"),
    (b"<Document><BkToCstmrStmt/></Document>", "Namensraum"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><Foo/></Document>', "„Foo“"),
    (b'<Document xmlns="urn:example:other"><BkToCstmrStmt/></Document>', "Namensraum"),
])
def test_not_a_statement(data, match):
    raises_camt(data, match)


def test_mt940_and_pain001_and_unknown_version():
    raises_camt(fixture("wrong-mt940.sta"), "MT940")
    err = raises_camt(fixture("wrong-pain.001.001.09.xml"), "pain.001")
    assert err.message == "Das ist ein pain.001-Auftrag (Überweisungsauftrag), erwartet wird camt.053 (Kontoauszug)."
    err = raises_camt(fixture("wrong-version.camt.053.001.99.xml"), "001.99")
    assert "001.02, 001.03, 001.04, 001.05, 001.06, 001.07, 001.08" in err.message


def test_max_bytes_is_enforced():
    data = musterstadt().read_bytes()
    raises_camt(data, "zu groß", max_bytes=len(data) - 1)
    assert len(list(parse_camt053(data, max_bytes=len(data)))) == 6


class EndlessStatement(io.RawIOBase):
    """A stream that never ends: a valid header, then entries forever. Counts what was read."""

    def __init__(self) -> None:
        head = musterstadt().read_bytes()
        self.head = head[: head.index(b"<Ntry>")]
        self.entry = head[head.index(b"<Ntry>"): head.index(b"</Ntry>") + len(b"</Ntry>")] + b"\n"
        self.sent = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        out = self.head if self.sent == 0 else self.entry * max(1, size // len(self.entry))
        self.sent += len(out)
        return out


def test_an_endless_stream_is_cut_off_at_max_bytes():
    stream = EndlessStatement()
    max_bytes = 2 * 1024 * 1024
    seen = 0
    with pytest.raises(CamtError, match="zu groß"):
        for _ in parse_camt053(stream, max_bytes=max_bytes):
            seen += 1
    assert seen > 100  # entries were streamed before the limit was hit
    assert stream.sent <= max_bytes + 128 * 1024


def test_a_60_mb_file_is_refused(tmp_path):
    path = tmp_path / "big.xml"
    entry = EndlessStatement()
    with path.open("wb") as f:
        f.write(entry.head)
        block = entry.entry * 1000
        while f.tell() < 60 * 1024 * 1024:
            f.write(block)
    with pytest.raises(CamtError, match="zu groß"):
        for _ in parse_camt053(path):
            pass


def test_errors_are_lazy():
    gen = parse_camt053(b"not xml at all")
    with pytest.raises(CamtError):
        next(gen)


# ----------------------------------------------------------------- invalid values

V08 = None


def v08() -> str:
    global V08
    if V08 is None:
        V08 = musterstadt().read_text(encoding="utf-8")
    return V08


def first_entry_replaced(old: str, new: str) -> bytes:
    text = v08()
    start = text.index("<Ntry>")
    assert old in text[start:], old
    return (text[:start] + text[start:].replace(old, new, 1)).encode()


@pytest.mark.parametrize(("old", "new", "match"), [
    ('<Amt Ccy="EUR">120.00</Amt>', '<Amt Ccy="EUR">120.0000000000000</Amt>', "13 Nachkommastellen"),
    ('<Amt Ccy="EUR">120.00</Amt>', '<Amt Ccy="EUR">-120.00</Amt>', "Negativer Betrag"),
    ('<Amt Ccy="EUR">120.00</Amt>', '<Amt Ccy="EUR">1e5</Amt>', "Ungültiger Betrag „1e5“"),
    ('<Amt Ccy="EUR">120.00</Amt>', '<Amt Ccy="EUR">120,00</Amt>', "Punkt"),
    ('<Amt Ccy="EUR">120.00</Amt>', '<Amt Ccy="EUR"></Amt>', "Betrag fehlt"),
    ('<Amt Ccy="EUR">120.00</Amt>', '<Amt>120.00</Amt>', "Währung"),
    ('<Amt Ccy="EUR">120.00</Amt>', '<Amt Ccy="euro">120.00</Amt>', "ungültige Währung"),
    ('<Amt Ccy="EUR">120.00</Amt>\n', "", "Pflichtelement Amt"),
    ("<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>CRED</CdtDbtInd>", "„CRED“.*CRDT oder DBIT"),
    ("<CdtDbtInd>CRDT</CdtDbtInd>\n", "", "Pflichtelement CdtDbtInd"),
    ("<Dt>2026-03-02</Dt>", "<Dt>2026-02-30</Dt>", "Ungültiges Datum"),
    ("<Cd>BOOK</Cd>", "<Cd></Cd>", "Buchungsstatus"),
    ("</Refs>", "</Refs><Amt Ccy='EUR'>1.2.3</Amt>", "Ungültiger Betrag"),
])
def test_invalid_entry_values(old, new, match):
    err = raises_camt(first_entry_replaced(old, new), match)
    assert err.line and err.line > 60  # points into the first entry
    assert err.message.startswith("Buchung Nr. 1")


def test_missing_account_and_header_elements():
    text = v08()
    no_acct = re.sub(r"<Acct>.*?</Acct>", "", text, count=1, flags=re.S)
    raises_camt(no_acct.encode(), "Kontoangabe")
    no_iban = text.replace(f"<IBAN>{IBAN}</IBAN>", "<Nm>x</Nm>", 1)
    raises_camt(no_iban.encode(), "Kontonummer")
    raises_camt(text.replace("<MsgId>MUS082026030218000001</MsgId>", "").encode(), "MsgId")
    raises_camt(text.replace("<Id>2026-03-02-08</Id>", "").encode(), "Auszugskennung")
    raises_camt(text.replace("<Amt Ccy=\"EUR\">15234.56</Amt>", "<Amt Ccy=\"EUR\">1.0.0</Amt>").encode(),
                "Ungültiger Betrag")
    no_sts = re.sub(r"<Sts>\s*<Cd>BOOK</Cd>\s*</Sts>", "", text, count=1)
    raises_camt(no_sts.encode(), "Pflichtelement Sts")


def test_error_after_good_entries_is_raised_while_iterating():
    text = v08()
    last = text.rindex("<Ntry>")
    bad = text[:last] + text[last:].replace('<Amt Ccy="EUR">55.00</Amt>', '<Amt Ccy="EUR">55.001234</Amt>', 1)
    got = []
    with pytest.raises(CamtError, match="Buchung Nr. 6"):
        for e in parse_camt053(bad.encode()):
            got.append(e)
    assert len(got) == 5


@pytest.mark.parametrize(("old", "new", "match"), [
    ("<Ustrd>Hundesteuer 2026</Ustrd>", "<Ustrd>Hunde&foo;</Ustrd>", "Entity-Referenz"),
    ("<Ustrd>Hundesteuer 2026</Ustrd>", "<Ustrd>x</Ustrd>" + "<a>" * 5000 + "</a>" * 5000, "zu tief verschachtelt"),
    ("<Ustrd>Hundesteuer 2026</Ustrd>", "<Ustrd>" + "x" * 10_500_000 + "</Ustrd>", "Text zu lang"),
    ("<AddtlNtryInf>GUTSCHR. UEBERWEISUNG</AddtlNtryInf>", "<Ntry/>", "Ntry an unerwarteter Stelle"),
    ("<Ustrd>Hundesteuer 2026</Ustrd>", "<Ustrd>Hundesteuer 2026</Ustrd><?evil x?>", "Verarbeitungsanweisung"),
    ("<Ustrd>Hundesteuer 2026</Ustrd>", "<Ustrd>Hundesteuer 2026</Ustrd><Ustrd>a</Ustrd", "kein gültiges XML"),
])
def test_hostile_structures(old, new, match):
    err = raises_camt(first_entry_replaced(old, new), match, max_bytes=20_000_000)
    assert err.line and err.line > 60


def test_predefined_entities_and_character_references_are_fine():
    text = first_entry_replaced("<Ustrd>Hundesteuer 2026</Ustrd>", "<Ustrd>Hunde &amp; Katzen &#x263A;</Ustrd>")
    (tx,) = next(iter(parse_camt053(text))).transactions
    assert tx.remittance.endswith("Hunde & Katzen \u263a")


def test_batch_without_individual_amounts_has_amount_none():
    data = (FIXTURES / "musterstadt.camt.053.001.02.xml").read_text()
    data = re.sub(r"<AmtDtls>\s*<TxAmt>\s*<Amt Ccy=\"EUR\">(25.00|40.00|15.50)</Amt>\s*</TxAmt>\s*</AmtDtls>", "", data)
    batch = list(parse_camt053(data.encode()))[2]
    assert batch.amount == Decimal("80.50")
    assert [(t.amount, t.currency) for t in batch.transactions] == [(None, "EUR")] * 3


def test_comments_are_ignored():
    text = v08().replace("<Ustrd>Hundesteuer 2026</Ustrd>", "<Ustrd>Hunde<!-- x -->steuer 2026</Ustrd><!-- y -->")
    (tx,) = next(iter(parse_camt053(text.encode()))).transactions
    assert tx.remittance == "Kassenzeichen 2026-000123-45\nHundesteuer 2026"  # the parser drops comments


# ----------------------------------------------------------------- sources and helpers


def test_sources_bytes_path_str_and_file_object():
    path = musterstadt()
    data = path.read_bytes()
    expected = [e.fingerprint() for e in parse_camt053(data)]
    assert [e.fingerprint() for e in parse_camt053(path)] == expected
    assert [e.fingerprint() for e in parse_camt053(str(path))] == expected
    with path.open("rb") as f:
        assert [e.fingerprint() for e in parse_camt053(f)] == expected
    assert [e.fingerprint() for e in parse_camt053(io.BytesIO(data))] == expected
    assert [e.fingerprint() for e in parse_camt053(bytearray(data))] == expected
    with path.open("r") as f, pytest.raises(TypeError):
        list(parse_camt053(f))
    with pytest.raises(TypeError):
        list(parse_camt053(12))


@pytest.mark.parametrize(("text", "value"), [
    ("0", Decimal("0")), ("8.85", Decimal("8.85")), ("8.850", Decimal("8.85")), (" 12.5 ", Decimal("12.5")),
    ("1234567890123.12345", Decimal("1234567890123.12345")), ("007.10", Decimal("7.1")),
])
def test_parse_amount_ok(text, value):
    assert parse_amount(text) == value


@pytest.mark.parametrize("text", [
    "", "-1.00", "+1.00", "1e5", "1E5", "1,00", "1.000000", "0.1234567890123", ".5", "5.", "1 000.00",
    "NaN", "Infinity", "١٢", "1234567890123456.789",
])
def test_parse_amount_rejects(text):
    with pytest.raises(CamtError):
        parse_amount(text)


def test_normalise_iban():
    assert normalise_iban(" de02 1203 0000 0000 2020 51\n") == IBAN
    assert normalise_iban(None) == ""


def test_fingerprint_contents():
    entries = list(parse_camt053(musterstadt()))
    e = entries[0]
    base = e.fingerprint()
    e.amount = Decimal("120.000")
    assert e.fingerprint() == base  # canonical amount
    e.statement.statement_id = "other statement"
    e.index = 99
    e.status = "PDNG"
    assert e.fingerprint() == base  # not included
    for attr, value in [("amount", Decimal("120.01")), ("credit", False), ("reversal", True),
                        ("booking_date", date(2026, 3, 3)), ("account_servicer_ref", "x")]:
        old = getattr(e, attr)
        setattr(e, attr, value)
        assert e.fingerprint() != base, attr
        setattr(e, attr, old)
    e.transactions[0].remittance += "!"
    assert e.fingerprint() != base


def test_fingerprint_is_the_sha256_of_the_json_encoding():
    """`fingerprint()` writes its JSON directly; it must stay byte for byte the encoder's (stored fingerprints
    recognise re-delivered bookings)."""
    import dataclasses
    import hashlib

    def by_encoder(e):
        return hashlib.sha256(e._fingerprint_json().encode("utf-8")).hexdigest()

    entries = [e for path in sorted(FIXTURES.glob("*.camt.053.*.xml")) if "99" not in path.name
               for e in parse_camt053(path)]
    assert len(entries) > 20
    tricky = ["", 'say "hi"', "back\\slash", "tab\tnew\nline\r", "\x00\x01\x1f\x7f", "Ümläut € 😀",
              "\u2028\u2029", "</Ustrd>&amp;", "[1,2]", "null"]
    e = entries[0]
    for text in tricky:
        tx = dataclasses.replace(e.transactions[0], remittance=text, end_to_end_id=text[::-1])
        entries.append(dataclasses.replace(e, account_servicer_ref=text, transactions=[tx, tx]))
    entries.append(dataclasses.replace(e, reversal=True, credit=False, booking_date=None, value_date=None,
                                       transactions=[]))
    entries.append(dataclasses.replace(e, reversal=1, account_servicer_ref=None))  # not from the parser
    for e in entries:
        assert e.fingerprint() == by_encoder(e)


def test_day_statement_redelivered_inside_a_month_statement(tmp_path):
    """The same bookings in a different file (other statement id, more entries) are recognised."""
    fx = load_fixture_module()
    day = io.BytesIO()
    write_camt053(day, statement_id="D1", message_id="M1", created_at=datetime(2026, 3, 2, 18),
                  opening_balance=Decimal("15234.56"), entries=fx.entries(), **fx.MUSTERSTADT)
    month_entries = [WriterEntry(amount=Decimal("1.00"), booking_date=date(2026, 3, 1))] + fx.entries()
    month = io.BytesIO()
    write_camt053(month, version="camt.053.001.02", statement_id="MONAT-03", message_id="M2",
                  created_at=datetime(2026, 3, 31, 18), opening_balance=Decimal("15000"),
                  entries=month_entries, **fx.MUSTERSTADT)
    day_prints = [e.fingerprint() for e in parse_camt053(day.getvalue())]
    month_prints = [e.fingerprint() for e in parse_camt053(month.getvalue())]
    assert month_prints[1:] == day_prints
    assert month_prints[0] not in day_prints


# ----------------------------------------------------------------- writer


def sample_entries() -> list[WriterEntry]:
    return [
        WriterEntry(amount=Decimal("42.5"), booking_date=date(2026, 3, 2), value_date=date(2026, 3, 3),
                    remittance="Kassenzeichen 2026-000123-45 Hundesteuer\n" + "x" * 300,
                    debtor_name="Erika Mustermann", debtor_iban="DE89 3704 0044 0532 0130 00",
                    end_to_end_id="E2E-1", mandate_id="M-1", creditor_reference="RF18539007547034",
                    account_servicer_ref="REF1", ultimate_creditor="Stadt Musterstadt Ordnungsamt",
                    creditor_name="Stadt Musterstadt", creditor_iban=IBAN, ultimate_debtor="Firma X"),
        WriterEntry(amount=Decimal("10.12345"), credit=False, booking_date=date(2026, 3, 2),
                    return_reason="MD06", bank_tx_code="PMNT/IDDT/UPDD", proprietary_code="NRTI+109"),
        WriterEntry(amount=Decimal("30"), booking_date=date(2026, 3, 2), transactions=[
            WriterTransaction(amount=Decimal("10"), remittance="KZ 202600012345"),
            WriterTransaction(amount=Decimal("20"), remittance="KZ 202600012346", debtor_iban=IBAN)]),
        WriterEntry(amount=Decimal("5"), booking_date=date(2026, 3, 3), status="PDNG", with_details=False,
                    additional_info="VORMERKUNG"),
        {"amount": Decimal("7.00"), "booking_date": date(2026, 3, 2), "reversal": True, "credit": False,
         "remittance": "Storno"},
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_writer_round_trip(version):
    buf = io.BytesIO()
    count = write_camt053(
        buf, version=version, account_iban="de02 1203 0000 0000 2020 51", account_owner="Stadt Musterstadt",
        servicer_bic="BYLADEM1001", statement_id="S-1", message_id="M-1",
        created_at=datetime(2026, 3, 2, 18, 0, tzinfo=CET), opening_balance=Decimal("-100.00"),
        entries=sample_entries(), electronic_seq=7, legal_seq=8, pretty=(version != "camt.053.001.05"),
    )
    assert count == 5
    data = buf.getvalue()
    if XSD_DIR.is_dir():
        assert_valid_053(data, version)
    entries = list(parse_camt053(data))
    assert len(entries) == 5
    info = entries[0].statement
    assert (info.version, info.account_iban, info.statement_id, info.message_id) == (version, IBAN, "S-1", "M-1")
    assert (info.electronic_seq, info.legal_seq) == ("7", "8")
    # closing = -100 + 42.5 - 10.12345 + 30 - 7 (the PDNG entry does not count)
    assert info.balance("OPBD").amount == Decimal("-100")
    assert info.balance("CLBD").amount == Decimal("-44.62345")
    a, b, c, d, e = entries
    tx = a.transactions[0]
    assert tx.remittance == "Kassenzeichen 2026-000123-45 Hundesteuer\n" + "\n".join(["x" * 140, "x" * 140, "x" * 20])
    assert (tx.amount, tx.end_to_end_id, tx.mandate_id, tx.creditor_reference) == (
        Decimal("42.5"), "E2E-1", "M-1", "RF18539007547034")
    assert (tx.debtor_name, tx.debtor_iban, tx.ultimate_debtor) == (
        "Erika Mustermann", "DE89370400440532013000", "Firma X")
    assert (tx.creditor_name, tx.creditor_iban, tx.ultimate_creditor) == (
        "Stadt Musterstadt", IBAN, "Stadt Musterstadt Ordnungsamt")
    assert (tx.bank_tx_code, tx.proprietary_code) == ("PMNT/RCDT/ESCT", "NTRF+166")
    assert (a.value_date, a.account_servicer_ref) == (date(2026, 3, 3), "REF1")
    assert (b.amount, b.credit, b.transactions[0].return_reason, b.proprietary_code) == (
        Decimal("10.12345"), False, "MD06", "NRTI+109")
    assert [t.amount for t in c.transactions] == [Decimal("10"), Decimal("20")]
    assert [t.remittance for t in c.transactions] == ["KZ 202600012345", "KZ 202600012346"]
    assert (d.status, d.additional_info, d.transactions[0].synthesised) == ("PDNG", "VORMERKUNG", True)
    assert (e.reversal, e.credit, e.proprietary_code, e.bank_tx_code) == (True, False, "NTRF+116", "PMNT/ICDT/ESCT")


def test_writer_streams_an_iterator_with_given_closing_balance():
    def gen():
        for i in range(1000):
            yield WriterEntry(amount=Decimal("1.00"), booking_date=date(2026, 3, 2), remittance=f"KZ {i}")

    buf = io.BytesIO()
    assert write_camt053(buf, account_iban=IBAN, statement_id="S", message_id="M", created_at=datetime(2026, 3, 2),
                         opening_balance=Decimal(0), closing_balance=Decimal("1000.00"), entries=gen(),
                         pretty=False) == 1000
    entries = list(parse_camt053(buf.getvalue()))
    assert len(entries) == 1000 and entries[-1].transactions[0].remittance == "KZ 999"
    assert b"TxsSummry" not in buf.getvalue()
    with pytest.raises(TypeError):
        write_camt053(io.BytesIO(), account_iban=IBAN, statement_id="S", message_id="M",
                      created_at=datetime(2026, 3, 2), opening_balance=Decimal(0), entries=gen())


@pytest.mark.parametrize(("kwargs", "exc"), [
    ({"version": "camt.053.001.09"}, ValueError),
    ({"entries": [WriterEntry(amount=Decimal("-1"), booking_date=date(2026, 1, 1))]}, ValueError),
    ({"entries": [WriterEntry(amount=Decimal("1.000001"), booking_date=date(2026, 1, 1))]}, ValueError),
    ({"statement_id": "x" * 36}, ValueError),
])
def test_writer_rejects_bad_input(kwargs, exc):
    args = {"account_iban": IBAN, "statement_id": "S", "message_id": "M", "created_at": datetime(2026, 3, 2),
            "opening_balance": Decimal(0), "entries": []} | kwargs
    with pytest.raises(exc):
        write_camt053(io.BytesIO(), **args)


def test_split_remittance():
    assert split_remittance("") == []
    assert split_remittance("a\n\nb\r\n") == ["a", "b"]
    assert split_remittance("y" * 281) == ["y" * 140, "y" * 140, "y"]


def test_supported_versions():
    assert list(SUPPORTED_VERSIONS) == VERSIONS


# ----------------------------------------------------------------- memory


def _peak_parse(n: int) -> int:
    def gen():
        for i in range(n):
            yield WriterEntry(amount=Decimal("12.34"), booking_date=date(2026, 3, 2),
                              remittance=f"Kassenzeichen 2026-{i:06d}-45 Hundesteuer", debtor_name="Erika Mustermann",
                              debtor_iban="DE89370400440532013000", end_to_end_id=f"E2E-{i}")

    buf = io.BytesIO()
    write_camt053(buf, account_iban=IBAN, statement_id="S", message_id="M", created_at=datetime(2026, 3, 2),
                  opening_balance=Decimal(0), closing_balance=Decimal("12.34") * n, entries=gen(), pretty=False)
    data = buf.getvalue()
    tracemalloc.start()
    try:
        count = sum(1 for _ in parse_camt053(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    return peak


def test_memory_does_not_grow_with_the_number_of_entries():
    small, large = _peak_parse(500), _peak_parse(4000)
    assert large < small * 1.5 + 256 * 1024, (small, large)
