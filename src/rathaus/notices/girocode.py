"""GiroCode (EPC QR code, EPC069-12 version 002) for the payment part of a notice, made with segno.

The payload is UTF-8 (character set 1) so names and purposes with umlauts survive; the remittance
text carries the Kassenzeichen in its display form, which the Stadtkasse matches incoming payments on.
"""

from __future__ import annotations

from decimal import Decimal

import segno
from segno import helpers

EPC_TEXT_MAX = 140
EPC_NAME_MAX = 70


def remittance_text(kassenzeichen_display: str, purpose: str = "") -> str:
    text = f"Kassenzeichen {kassenzeichen_display}"
    if purpose:
        text = f"{text} {purpose}"
    return text[:EPC_TEXT_MAX].rstrip()


def epc_payload(*, name: str, iban: str, amount: Decimal, text: str, bic: str = "") -> str:
    """The EPC data string (as the QR code carries it, character set 1 = UTF-8)."""
    data = helpers._make_epc_qr_data(  # noqa: SLF001 - same function make_epc_qr uses; exposed for tests
        name[:EPC_NAME_MAX], iban.replace(" ", ""), Decimal(amount), text=text, bic=bic or None, encoding=1,
    )
    return data.decode("utf-8")


# A fixed data mask: segno's search for the best of the 8 masks (pure Python penalty scoring) took ~13 ms
# per code, more than rendering the whole notice. Every mask is valid per ISO/IEC 18004 and decodes alike;
# the search only optimises the module pattern. Pattern 2 (vertical stripes) is a common fixed choice.
FIXED_MASK = 2


def make_qr(*, name: str, iban: str, amount: Decimal, text: str, bic: str = "") -> segno.QRCode:
    """Same as segno.helpers.make_epc_qr (level M, no error boost, version <= 13), with a fixed mask."""
    data = helpers._make_epc_qr_data(  # noqa: SLF001
        name[:EPC_NAME_MAX], iban.replace(" ", ""), Decimal(amount), text=text, bic=bic or None, encoding=1,
    )
    qr = segno.make_qr(data, error="m", boost_error=False, mask=FIXED_MASK)
    if qr.version > 13:
        raise ValueError(f"EPC-QR-Code zu groß (Version {qr.version} > 13)")
    return qr


def girocode_svg(*, name: str, iban: str, amount: Decimal, text: str, bic: str = "") -> str:
    """SVG (no XML declaration) with the quiet zone of 4 modules, for `image(bytes(...), format: "svg")`."""
    qr = make_qr(name=name, iban=iban, amount=amount, text=text, bic=bic)
    return matrix_svg(qr.matrix, border=4)


def matrix_svg(matrix, border: int = 4) -> str:
    """Minimal SVG of a QR matrix: one stroked line per horizontal run of dark modules (as segno draws it)."""
    size = len(matrix) + 2 * border
    parts = []
    for y, row in enumerate(matrix):
        x, n = 0, len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                parts.append(f"M{start + border} {y + border}.5h{x - start}")
            else:
                x += 1
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size}" height="{size}">'
            f'<rect width="{size}" height="{size}" fill="#fff"/><path stroke="#000" d="{"".join(parts)}"/></svg>')
