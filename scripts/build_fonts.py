#!/usr/bin/env python3
"""Build "Rathaus Serif": Libertinus Serif as TrueType (quadratic) outlines, for fast PDF export.

Why: Typst embeds a subset of every font it uses in every PDF. For a CFF (PostScript-outline) font such as
the Libertinus Serif bundled with Typst, its PDF writer decompiles and recompiles the CFF charstrings and
draws every used glyph to compute the font's bounding box, per document; with TrueType outlines both are
plain copies. Measured on the demo Bescheid (docs/benchmarks.md): ≈ 10 % less CPU per notice, same look
(the outlines are converted within 1 font unit, advance widths, kerning and ligatures are unchanged).

What: Regular, Bold, Italic and Bold Italic; unhinted (PDF viewers do not use hinting); the Latin script
with the punctuation, currency and letterlike symbols of German letters (Basic Latin, Latin-1, Latin
Extended-A/-B/Additional, combining diacritics, IPA schwa, spacing modifiers, general punctuation, currency,
letterlike, number forms, arrows, a few mathematical operators). Other scripts (Greek, Cyrillic, …) are not
in it: templates name Libertinus Serif second (`font: ("Rathaus Serif", "Libertinus Serif")`), so Typst takes
such characters from the bundled original – the same design.

License: Libertinus is under the SIL Open Font License 1.1; a modified version must not use the original's
reserved names, hence the new family name. OFL.txt next to the fonts carries the copyright and license.

Source: the Libertinus Serif OpenType files, either given as a folder (`--source DIR`, e.g. a Libertinus
release) or taken from the `typst` wheel, which embeds them verbatim (default).

    pip install fonttools           # only needed to rebuild the fonts, not at run time
    python scripts/build_fonts.py   # writes src/rathaus/notices/fonts/RathausSerif-*.ttf
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src" / "rathaus" / "notices" / "fonts"
FAMILY = "Rathaus Serif"
STYLES = {"Regular": "Libertinus Serif Regular", "Bold": "Libertinus Serif Bold",
          "Italic": "Libertinus Serif Italic", "BoldItalic": "Libertinus Serif Bold Italic"}
STYLE_NAMES = {"Regular": "Regular", "Bold": "Bold", "Italic": "Italic", "BoldItalic": "Bold Italic"}
RANGES = [
    (0x0020, 0x007E), (0x00A0, 0x024F),  # Basic Latin, Latin-1, Latin Extended-A and -B
    (0x0259, 0x0259), (0x02B0, 0x02FF),  # schwa, spacing modifier letters (ˆ ˇ ˘ ˙ ˚ ˛ ˜ ˝ ʼ)
    (0x0300, 0x036F),                    # combining diacritical marks (names typed decomposed)
    (0x1E00, 0x1EFF),                    # Latin Extended Additional (ẞ, Vietnamese)
    (0x2000, 0x206F), (0x20A0, 0x20CF),  # general punctuation, currency (€)
    (0x2100, 0x214F), (0x2150, 0x218F),  # letterlike (№ ™ ℮), number forms (½ ⅓)
    (0x2190, 0x21FF),                    # arrows
    (0x2200, 0x22FF),                    # mathematical operators (− × ÷ ≤ ≥ ≈ …)
    (0xFB00, 0xFB06),                    # Latin ligatures (ﬁ ﬂ)
]


def libertinus_from_typst() -> dict[str, bytes]:
    """The OpenType files embedded in the typst wheel's extension module (typst-assets)."""
    import typst
    from fontTools.ttLib import TTFont

    lib = next(Path(typst.__file__).parent.glob("_typst*.so"))
    data = lib.read_bytes()
    found: dict[str, bytes] = {}
    i = 0
    while (i := data.find(b"OTTO", i)) >= 0:
        try:
            num_tables = struct.unpack(">H", data[i + 4:i + 6])[0]
            if 5 < num_tables < 40:
                end = max(off + ln for _tag, _cs, off, ln in
                          (struct.unpack(">4sIII", data[i + 12 + 16 * k:i + 28 + 16 * k]) for k in range(num_tables)))
                blob = data[i:i + end]
                name = TTFont(io.BytesIO(blob))["name"].getDebugName(4)
                if name in STYLES.values():
                    found.setdefault(name, blob)
        except Exception:  # noqa: BLE001 - not a font at this offset
            pass
        i += 4
    return found


def to_truetype(font, max_err: float = 1.0) -> None:
    """CFF → glyf (quadratic splines), after fontTools' Snippets/otf2ttf.py."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    glyphset = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyphset)
        glyphset[name].draw(Cu2QuPen(pen, max_err, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    font["glyf"] = glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf.compile(font)
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attr in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                 "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attr, 1 if attr == "maxZones" else 0)
    post = font["post"]
    post.formatType = 3.0  # no glyph names: text extraction uses the ToUnicode map Typst writes
    font["head"].glyphDataFormat = 0
    font.sfntVersion = "\x00\x01\x00\x00"


def build(source: bytes, style: str, out: Path) -> int:
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(source))
    opts = subset.Options()
    opts.hinting = False
    opts.desubroutinize = True
    # the default set (kerning, ligatures, marks, contextual forms, fractions, …) plus what Typst's text
    # settings switch on: small caps, numeral styles and widths, super-/subscripts, slashed zero, case forms
    opts.layout_features = [*opts.layout_features, "smcp", "c2sc", "onum", "lnum", "tnum", "pnum", "sups",
                            "subs", "ordn", "zero", "case", "hlig", "dlig"]
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.glyph_names = False
    sub = subset.Subsetter(opts)
    cmap = font.getBestCmap()
    sub.populate(unicodes=[u for lo, hi in RANGES for u in range(lo, hi + 1) if u in cmap])
    sub.subset(font)
    to_truetype(font)
    style_name = STYLE_NAMES[style]
    ps = f"{FAMILY.replace(' ', '')}-{style}"
    orig = font["name"].getDebugName(5)
    for rec in font["name"].names:
        if rec.nameID in (1, 16):
            rec.string = FAMILY
        elif rec.nameID in (2, 17):
            rec.string = style_name
        elif rec.nameID == 4:
            rec.string = f"{FAMILY} {style_name}" if style != "Regular" else FAMILY
        elif rec.nameID in (3, 6):
            rec.string = ps
        elif rec.nameID == 5:
            rec.string = f"{orig}; Rathaus Serif: TrueType outlines, Latin subset"
        elif rec.nameID == 10:
            rec.string = ("Libertinus Serif, converted to TrueType outlines and subset to Latin for the rathaus "
                          "project (scripts/build_fonts.py).")
    font.save(out)
    return len(font.getGlyphOrder())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", type=Path, help="folder with LibertinusSerif-*.otf (default: from the typst wheel)")
    args = ap.parse_args()
    if args.source:
        from fontTools.ttLib import TTFont

        sources = {}
        for p in sorted(args.source.glob("*.otf")):
            name = TTFont(p)["name"].getDebugName(4)
            if name in STYLES.values():
                sources[name] = p.read_bytes()
    else:
        sources = libertinus_from_typst()
    missing = [n for n in STYLES.values() if n not in sources]
    if missing:
        print(f"not found: {', '.join(missing)}", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    for style, name in STYLES.items():
        out = OUT / f"RathausSerif-{style}.ttf"
        n = build(sources[name], style, out)
        print(f"{out.relative_to(ROOT)}: {n} glyphs, {out.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
