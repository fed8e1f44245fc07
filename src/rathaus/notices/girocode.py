"""GiroCode (EPC QR code, EPC069-12 version 002) for the payment part of a notice, made with segno.

The payload is UTF-8 (character set 1) so names and purposes with umlauts survive; the remittance
text carries the Kassenzeichen in its display form, which the Stadtkasse matches incoming payments on.
"""

from __future__ import annotations

import functools
import operator
import struct
import zlib
from decimal import Decimal

import segno
from segno import consts, encoder, helpers

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


# A fixed data mask: segno's search for the best of the 8 masks (pure Python penalty scoring) cost more per
# code than rendering the whole notice. Every mask is valid per ISO/IEC 18004 and decodes alike;
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
    return payload_svg(epc_payload(name=name, iban=iban, amount=amount, text=text, bic=bic))


def payload_svg(payload: str) -> str:
    """The GiroCode SVG of an EPC payload (`epc_payload`), UTF-8 in byte mode as segno encodes it."""
    return matrix_svg(qr_matrix(payload.encode("utf-8")), border=4)


def payload_png(payload: str) -> bytes:
    """The GiroCode as a PNG of one pixel per module (1 bit grey, quiet zone of 4 modules), a few hundred bytes. The
    templates scale it with `scaling: "pixelated"` (no smoothing; in the PDF an image without /Interpolate):
    Typst embeds it faster than it converts the SVG path."""
    return matrix_png(qr_matrix(payload.encode("utf-8")), border=4)


# --------------------------------------------------------------------------- fast encoder
# segno (pure Python) is slow per code even with a fixed mask: it re-derives the function patterns
# and the placement path module by module for every code and computes the Reed-Solomon blocks term by
# term. For the one case we need – byte mode, level M, mask FIXED_MASK, no ECI, version 1..13 – everything
# that depends only on the version is computed once (with segno's own functions): the template with
# finder/alignment/timing patterns, format and version information and the mask bits, and the positions
# of the data modules in placement order. Per code remain the bit stream, Reed-Solomon with a
# per-generator table (one int XOR per data byte) and putting the bits in place with one gather
# (itemgetter) and one int XOR; the pictures (matrix_png, matrix_svg) likewise. The result is
# module for module the matrix segno makes, but for one detail: segno adds a
# further 0x00 codeword when the bit stream already ends on a codeword boundary (always so in byte mode),
# ISO/IEC 18004 7.4.10 pads only up to the boundary; decoders ignore both (tests/test_notices.py compares
# the matrices on random payloads with the standard's padding, and decodes the printed code).

_ERROR_M = consts.ERROR_LEVEL_M


@functools.lru_cache(maxsize=16)
def _layout(version: int):
    width = encoder.calc_matrix_size(version)
    m = encoder.make_matrix(width, width)
    encoder.add_finder_patterns(m, width, width)
    encoder.add_alignment_patterns(m, width, width)
    # the data module path of segno.encoder.add_codewords (QR codes, not Micro QR)
    positions = []
    for right in range(width - 1, 0, -2):
        if right <= 6:
            right -= 1
        upwards0 = (right & 2) == 0
        for vertical in range(width):
            for z in (0, 1):
                j = right - z
                i = (width - 1 - vertical) if (upwards0 ^ (j < 6)) else vertical
                if m[i][j] == 0x2:
                    positions.append(i * width + j)
    # segno's own pipeline with all data bits 0 gives the template: function patterns, format and version
    # information, and at the data positions the mask bits; a code is the template XOR its data bits.
    encoder.add_codewords(m, b"\0" * len(positions), version)
    _, m = encoder.find_and_apply_best_mask(m, width, width, FIXED_MASK)
    encoder.add_format_info(m, version, _ERROR_M, FIXED_MASK)
    encoder.add_version_info(m, version)
    template = bytes(b"".join(bytes(row) for row in m))
    blocks = [(ec.num_data, ec.num_total - ec.num_data) for ec in consts.ECC[version][_ERROR_M]
              for _ in range(ec.num_blocks)]
    remainder = {2: 7, 3: 7, 4: 7, 5: 7, 6: 7}.get(version, 3 if 14 <= version <= 20 else 0)
    # gather instead of scatter: for every module (row-major) the index of its bit in the placement-order
    # stream, or the index of an appended 0 for function modules; one C-level itemgetter call per code
    index = [len(positions)] * (width * width)
    for k, p in enumerate(positions):
        index[p] = k
    return width, template, positions, blocks, remainder, operator.itemgetter(*index)


@functools.lru_cache(maxsize=64)
def _rs_table(n: int) -> list[int]:
    """Remainder contribution of a leading coefficient c (as an n-byte int) for the generator of degree n."""
    gen, log, exp = consts.GEN_POLY[n], consts.GALIOS_LOG, consts.GALIOS_EXP
    table = [0]
    for c in range(1, 256):
        lc = log[c]
        table.append(int.from_bytes(bytes(exp[lc + g] for g in gen), "big"))
    return table


def _rs(block: bytes, n: int) -> bytes:
    table, top, mask = _rs_table(n), 8 * (n - 1), (1 << 8 * n) - 1
    rem = 0
    for b in block:
        rem = ((rem << 8) & mask) ^ table[(rem >> top) ^ b]
    return rem.to_bytes(n, "big")


def qr_matrix(data: bytes) -> list[bytes]:
    """Rows (bytes of 0/1) of the QR code of `data`: byte mode, level M, mask FIXED_MASK, smallest version
    – as `segno.make_qr(data, error="m", boost_error=False, mask=FIXED_MASK, mode="byte").matrix`, with
    padding per ISO/IEC 18004 7.4.10 (see above)."""
    for version in range(1, 14):
        cci = 8 if version < 10 else 16
        capacity = consts.SYMBOL_CAPACITY[version][_ERROR_M]
        if 4 + cci + 8 * len(data) <= capacity:
            break
    else:
        raise ValueError("EPC-QR-Code zu groß (Version > 13)")
    width, template, positions, blocks, remainder, gather = _layout(version)
    bits = "0100" + format(len(data), f"0{cci}b") + format(int.from_bytes(data, "big"), f"0{8 * len(data)}b")
    bits += "0" * min(4, capacity - len(bits))
    bits += "0" * (-len(bits) % 8)
    words = int(bits, 2).to_bytes(len(bits) // 8, "big")
    pad = (b"\xec\x11" * (capacity // 16 + 1))[: capacity // 8 - len(words)]
    words += pad
    data_blocks, ec_blocks, k = [], [], 0
    for num_data, num_ec in blocks:
        block = words[k:k + num_data]
        k += num_data
        data_blocks.append(block)
        ec_blocks.append(_rs(block, num_ec))
    final = bytearray()
    for group in (data_blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            final.extend(b[i] for b in group if i < len(b))
    stream = format(int.from_bytes(final, "big") << remainder, f"0{len(positions)}b").encode().translate(_BITS)
    data = bytes(gather(stream + b"\0"))  # the data bits at their module positions, 0 elsewhere
    flat = (int.from_bytes(template, "big") ^ int.from_bytes(data, "big")).to_bytes(width * width, "big")
    return [flat[r:r + width] for r in range(0, width * width, width)]


_BITS = bytes.maketrans(b"01", b"\x00\x01")
_TO_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def _chunk_path(byte: int) -> str:
    """Relative path for 8 modules (most significant bit left): a horizontal line over each dark run, the pen
    ending 8 modules right of where it started."""
    out, pos, k = [], 0, 0
    while k < 8:
        if byte >> (7 - k) & 1:
            j = k
            while j < 8 and byte >> (7 - j) & 1:
                j += 1
            if k > pos:
                out.append(f"m{k - pos} 0")
            out.append(f"h{j - k}")
            pos = k = j
        else:
            k += 1
    if pos < 8:
        out.append(f"m{8 - pos} 0")
    return "".join(out)


_CHUNK_PATHS = [_chunk_path(b) for b in range(256)]


def matrix_svg(matrix, border: int = 4) -> str:
    """Minimal SVG of a QR matrix: stroked horizontal lines (1 module wide) over the dark modules, row by row.

    Each row is packed into bytes and drawn from a table of 256 relative path pieces (one per 8 modules):
    several times faster than one formatted segment per dark run (a run that crosses a
    piece boundary is drawn as two touching segments; rasterised, the code is pixel for pixel the same)."""
    n = len(matrix)
    size = n + 2 * border
    pad = -n % 8
    nbytes = (n + pad) // 8
    parts = []
    for y, row in enumerate(matrix):
        packed = (int(bytes(row).translate(_TO_DIGITS), 2) << pad).to_bytes(nbytes, "big")
        parts.append(f"M{border} {y + border}.5")
        parts.append("".join([_CHUNK_PATHS[c] for c in packed]))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" width="{size}" height="{size}">'
            f'<rect width="{size}" height="{size}" fill="#fff"/><path stroke="#000" d="{"".join(parts)}"/></svg>')


_LIGHT_DIGITS = bytes.maketrans(b"\x00\x01", b"10")  # PNG grey 1 bit: 1 = white, 0 = black


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def matrix_png(matrix, border: int = 4) -> bytes:
    """PNG (greyscale, 1 bit per pixel, one pixel per module) of a QR matrix with `border` light modules."""
    size = len(matrix) + 2 * border
    pad = -size % 8
    row_bytes = (size + pad) // 8
    light = b"\0" + b"\xff" * row_bytes  # filter type 0 + a light row
    margin = b"1" * border
    rows = [light] * border
    for row in matrix:
        digits = margin + bytes(row).translate(_LIGHT_DIGITS) + margin + b"1" * pad
        rows.append(b"\0" + int(digits, 2).to_bytes(row_bytes, "big"))
    rows += [light] * border
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 1, 0, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + _png_chunk(b"IEND", b""))
