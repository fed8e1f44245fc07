"""The records a camt.053 statement is read into (`camt.parse_camt053`), and `CamtError`.

Plain dataclasses, no XML and no Django: the parser fills them, the parser process (`process`) sends them
over a pipe, the importer (`importer`) books them. `Entry.fingerprint` identifies a booking independent of
the file it came in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = [
    "NS_PREFIX",
    "SUPPORTED_VERSIONS",
    "Balance",
    "CamtError",
    "Entry",
    "StatementInfo",
    "Transaction",
    "normalise_iban",
]

NS_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
SUPPORTED_VERSIONS: tuple[str, ...] = tuple(f"camt.053.001.{n:02d}" for n in range(2, 9))


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



_FINGERPRINT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_json_string = json.encoder.encode_basestring  # how that encoder writes a str (ensure_ascii=False)


def _canonical_amount(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.00001")))


def normalise_iban(value: str | None) -> str:
    """Upper-case an IBAN and remove all whitespace. Does not validate the check digits."""
    if not value:
        return ""
    return "".join(value.split()).upper()



def shorten(text: str, limit: int = 40) -> str:
    """A text quoted in an error message, cut to `limit` characters."""
    return text if len(text) <= limit else text[:limit] + "…"
