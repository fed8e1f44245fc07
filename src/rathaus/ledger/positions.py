"""The lines of the Ergebnisrechnung and the Finanzrechnung (NKF NRW, § 2/§ 3 and § 39/§ 40 KomHVO NRW).

Line numbers follow the NRW Muster forms (Ergebnisrechnung lines 1-26 plus 27-29 of the
Teilergebnisrechnung; Finanzrechnung lines 1-40), not the enumeration in the statute text: the
statutory positions are the items (§ 2 Abs. 1: 1-9 ordentliche Erträge → lines 1-9, 10-15
ordentliche Aufwendungen → lines 11-16, 16/17 Finanzerträge/Zinsen → 19/20, 18/19
außerordentliche Erträge/Aufwendungen → 23/24), the sums follow § 2 Abs. 2 KomHVO NRW
(ordentliches Ergebnis = ordentliche Erträge − ordentliche Aufwendungen; Ergebnis der laufenden
Verwaltungstätigkeit = ordentliches Ergebnis + Finanzergebnis; Jahresergebnis).

Accounts of classes 4/5 roll up to an ER position, accounts of classes 6/7 to an FR position
(`Account.position`, set by the chart). A position is either an item (amounts from accounts) or a
total computed from other positions: `("sum", [(sign, position), ...])`.
"""

from __future__ import annotations

from decimal import Decimal

# Ergebnisrechnung: items of class 4 are Erträge (credit − debit), of class 5 Aufwendungen (debit − credit).
ER: list[tuple[int, str, tuple | None]] = [
    (1, "Steuern und ähnliche Abgaben", None),
    (2, "Zuwendungen und allgemeine Umlagen", None),
    (3, "Sonstige Transfererträge", None),
    (4, "Öffentlich-rechtliche Leistungsentgelte", None),
    (5, "Privatrechtliche Leistungsentgelte", None),
    (6, "Kostenerstattungen und Kostenumlagen", None),
    (7, "Sonstige ordentliche Erträge", None),
    (8, "Aktivierte Eigenleistungen", None),
    (9, "Bestandsveränderungen", None),
    (10, "Ordentliche Erträge", ("sum", [(1, p) for p in range(1, 10)])),
    (11, "Personalaufwendungen", None),
    (12, "Versorgungsaufwendungen", None),
    (13, "Aufwendungen für Sach- und Dienstleistungen", None),
    (14, "Bilanzielle Abschreibungen", None),
    (15, "Transferaufwendungen", None),
    (16, "Sonstige ordentliche Aufwendungen", None),
    (17, "Ordentliche Aufwendungen", ("sum", [(1, p) for p in range(11, 17)])),
    (18, "Ordentliches Ergebnis", ("sum", [(1, 10), (-1, 17)])),
    (19, "Finanzerträge", None),
    (20, "Zinsen und sonstige Finanzaufwendungen", None),
    (21, "Finanzergebnis", ("sum", [(1, 19), (-1, 20)])),
    (22, "Ergebnis der laufenden Verwaltungstätigkeit", ("sum", [(1, 18), (1, 21)])),
    (23, "Außerordentliche Erträge", None),
    (24, "Außerordentliche Aufwendungen", None),
    (25, "Außerordentliches Ergebnis", ("sum", [(1, 23), (-1, 24)])),
    (26, "Jahresergebnis", ("sum", [(1, 22), (1, 25)])),
    (27, "Erträge aus internen Leistungsbeziehungen", None),
    (28, "Aufwendungen aus internen Leistungsbeziehungen", None),
    (29, "Ergebnis nach internen Leistungsbeziehungen", ("sum", [(1, 26), (1, 27), (-1, 28)])),
]

# Finanzrechnung: items carry the cash flow (Einzahlungen positive, Auszahlungen negative as booked);
# the report shows Einzahlungen and Auszahlungen as positive amounts and totals as signed saldos.
FR: list[tuple[int, str, tuple | None]] = [
    (1, "Steuern und ähnliche Abgaben", None),
    (2, "Zuwendungen und allgemeine Umlagen", None),
    (3, "Sonstige Transfereinzahlungen", None),
    (4, "Öffentlich-rechtliche Leistungsentgelte", None),
    (5, "Privatrechtliche Leistungsentgelte", None),
    (6, "Kostenerstattungen, Kostenumlagen", None),
    (7, "Sonstige Einzahlungen", None),
    (8, "Zinsen und sonstige Finanzeinzahlungen", None),
    (9, "Einzahlungen aus laufender Verwaltungstätigkeit", ("sum", [(1, p) for p in range(1, 9)])),
    (10, "Personalauszahlungen", None),
    (11, "Versorgungsauszahlungen", None),
    (12, "Auszahlungen für Sach- und Dienstleistungen", None),
    (13, "Zinsen und sonstige Finanzauszahlungen", None),
    (14, "Transferauszahlungen", None),
    (15, "Sonstige Auszahlungen", None),
    (16, "Auszahlungen aus laufender Verwaltungstätigkeit", ("sum", [(1, p) for p in range(10, 16)])),
    (17, "Saldo aus laufender Verwaltungstätigkeit", ("sum", [(1, 9), (-1, 16)])),
    (18, "Zuwendungen für Investitionsmaßnahmen", None),
    (19, "Einzahlungen aus der Veräußerung von Sachanlagen", None),
    (20, "Einzahlungen aus der Veräußerung von Finanzanlagen", None),
    (21, "Einzahlungen aus Beiträgen u. ä. Entgelten", None),
    (22, "Sonstige Investitionseinzahlungen", None),
    (23, "Einzahlungen aus Investitionstätigkeit", ("sum", [(1, p) for p in range(18, 23)])),
    (24, "Auszahlungen für den Erwerb von Grundstücken und Gebäuden", None),
    (25, "Auszahlungen für Baumaßnahmen", None),
    (26, "Auszahlungen für den Erwerb von beweglichem Anlagevermögen", None),
    (27, "Auszahlungen für den Erwerb von Finanzanlagen", None),
    (28, "Auszahlungen von aktivierbaren Zuwendungen", None),
    (29, "Sonstige Investitionsauszahlungen", None),
    (30, "Auszahlungen aus Investitionstätigkeit", ("sum", [(1, p) for p in range(24, 30)])),
    (31, "Saldo aus Investitionstätigkeit", ("sum", [(1, 23), (-1, 30)])),
    (32, "Finanzmittelüberschuss/-fehlbetrag", ("sum", [(1, 17), (1, 31)])),
    (33, "Aufnahme und Rückflüsse von Darlehen", None),
    (34, "Aufnahme von Krediten zur Liquiditätssicherung", None),
    (35, "Tilgung und Gewährung von Darlehen", None),
    (36, "Tilgung von Krediten zur Liquiditätssicherung", None),
    (37, "Saldo aus Finanzierungstätigkeit", ("sum", [(1, 33), (1, 34), (-1, 35), (-1, 36)])),
    (38, "Änderung des Bestands an eigenen Finanzmitteln", ("sum", [(1, 32), (1, 37)])),
    (39, "Haushaltsunwirksame Ein- und Auszahlungen (fremde Finanzmittel, Verwahrgelder)", None),
    (40, "Änderung des Bestands an Finanzmitteln insgesamt", ("sum", [(1, 38), (1, 39)])),
]

ER_NAMES = {p: name for p, name, _ in ER}
FR_NAMES = {p: name for p, name, _ in FR}
# FR item positions of Auszahlungen (shown positive, subtracted in the totals)
FR_OUT = {10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 35, 36}
# ER item positions of Aufwendungen
ER_EXPENSE = {11, 12, 13, 14, 15, 16, 20, 24, 28}


def evaluate(scheme, items: dict[int, Decimal]) -> list[dict]:
    """All lines of a scheme with their amounts: items from `items`, totals computed."""
    values: dict[int, Decimal] = {}
    rows = []
    for pos, name, formula in scheme:
        if formula is None:
            value = items.get(pos, Decimal("0.00"))
            kind = "item"
        else:
            value = sum((sign * values[p] for sign, p in formula[1]), Decimal("0.00"))
            kind = "total"
        values[pos] = value
        rows.append({"position": pos, "name": name, "amount": value, "kind": kind})
    return rows
