"""Hardened parsing of untrusted e-invoice XML.

Everything an e-invoice does not need is refused outright: a DOCTYPE (internal or external DTD, and
with it every entity declaration: XXE, "billion laughs"), entity references, network access, huge
text nodes, documents above `RATHAUS_MAX_EINVOICE_BYTES`. What remains is recognised by its root
element: UBL 2.1 Invoice, UBL 2.1 CreditNote or UN/CEFACT Cross Industry Invoice (CII D16B).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from lxml import etree

from rathaus.core.errors import DomainError

NS_UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_UBL_CREDITNOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
NS_CII = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
NS_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
NS_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"

UBL, CII = "UBL", "CII"
INVOICE, CREDIT_NOTE = "invoice", "credit_note"

ROOTS = {
    f"{{{NS_UBL_INVOICE}}}Invoice": (UBL, INVOICE),
    f"{{{NS_UBL_CREDITNOTE}}}CreditNote": (UBL, CREDIT_NOTE),
    f"{{{NS_CII}}}CrossIndustryInvoice": (CII, None),
}

# UNTDID 1001 codes of the EN 16931 subset (BR-CL-01) that denote a credit note; every other code
# of the subset (380, 384, 389, 875, 876, 877, 326, 751, ...) is an invoice. CII has one root element
# for both; the type code (BT-3) decides.
CREDIT_NOTE_TYPE_CODES = frozenset({"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"})

XML_CONTENT_TYPES = ("application/xml", "text/xml")


class XmlRefused(DomainError):
    """The bytes are not an e-invoice we are willing to look at."""

    status = 422
    title = "XML abgelehnt"


class NotXml(XmlRefused):
    status = 400
    title = "Kein XML"


class XmlTooLarge(XmlRefused):
    status = 413
    title = "Anfrage zu groß"


class HostileXml(XmlRefused):
    status = 422
    title = "XML abgelehnt"


class UnsupportedRoot(XmlRefused):
    status = 422
    title = "Kein unterstütztes Rechnungsformat"


class WrongContentType(XmlRefused):
    status = 415
    title = "Nicht unterstützter Inhaltstyp"


@dataclass
class ParsedInvoice:
    tree: etree._ElementTree
    root: etree._Element
    syntax: str                 # "UBL" or "CII"
    document_type: str          # "invoice" or "credit_note"
    customization_id: str       # BT-24 ("" if missing)
    text: str                   # the document as text (for Saxon), encoding already applied


def max_bytes() -> int:
    return int(getattr(settings, "RATHAUS_MAX_EINVOICE_BYTES", 20 * 1024 * 1024))


def check_content_type(content_type: str | None) -> None:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype not in XML_CONTENT_TYPES:
        raise WrongContentType("Erwartet wird Content-Type: application/xml oder text/xml.")


def _parser() -> etree.XMLParser:
    # a new parser per call: lxml parsers keep state and must not be shared between threads
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=False, remove_pis=False, collect_ids=False,
    )


def parse(xml: bytes, *, limit: int | None = None) -> ParsedInvoice:
    """Parse untrusted bytes; raise an XmlRefused subclass for anything that is not a plain invoice."""
    limit = max_bytes() if limit is None else limit
    if len(xml) > limit:
        raise XmlTooLarge(f"Die Rechnung darf höchstens {limit // (1024 * 1024)} MB groß sein.")
    if not xml.strip():
        raise NotXml("Der Inhalt ist leer.")
    # cheap pre-check before any parsing: a DTD has no business in an e-invoice (and the parsed tree is
    # checked again below, which also covers documents in UTF-16)
    if b"<!DOCTYPE" in xml[:65536]:
        raise HostileXml("Dokumenttyp-Deklarationen (DOCTYPE, DTD, Entitäten) sind in E-Rechnungen nicht erlaubt.")
    start = xml[:256].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not start.startswith(b"<") and xml[:2] not in (b"\xff\xfe", b"\xfe\xff"):
        raise NotXml("Der Inhalt ist kein XML.")
    try:
        tree = etree.ElementTree(etree.fromstring(xml, _parser()))
    except etree.XMLSyntaxError as e:
        msg = str(e)
        if "huge" in msg.lower() or "amplification" in msg.lower():
            raise HostileXml("Das XML überschreitet die zulässigen Verarbeitungsgrenzen.") from e
        raise NotXml(f"Das XML ist nicht wohlgeformt: {msg}") from e
    except ValueError as e:  # e.g. unsupported encoding declaration
        raise NotXml(f"Das XML kann nicht gelesen werden: {e}") from e
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise HostileXml("Dokumenttyp-Deklarationen (DOCTYPE, DTD, Entitäten) sind in E-Rechnungen nicht erlaubt.")
    root = tree.getroot()
    for _ in root.iter(etree.Entity):
        raise HostileXml("Entitätsreferenzen sind in E-Rechnungen nicht erlaubt.")
    found = ROOTS.get(root.tag if isinstance(root.tag, str) else "")
    if found is None:
        name = etree.QName(root).localname if isinstance(root.tag, str) else "?"
        raise UnsupportedRoot(
            f"Das Wurzelelement {name!r} ist keine E-Rechnung. Unterstützt werden UBL 2.1 Invoice und "
            "CreditNote sowie UN/CEFACT Cross Industry Invoice (CII)."
        )
    syntax, doc_type = found
    if syntax == UBL:
        customization = root.findtext(f"{{{NS_CBC}}}CustomizationID") or ""
    else:
        customization = root.findtext(
            f"{{{NS_CII}}}ExchangedDocumentContext/{{{NS_RAM}}}GuidelineSpecifiedDocumentContextParameter/"
            f"{{{NS_RAM}}}ID") or ""
        code = (root.findtext(f"{{{NS_CII}}}ExchangedDocument/{{{NS_RAM}}}TypeCode") or "").strip()
        doc_type = CREDIT_NOTE if code in CREDIT_NOTE_TYPE_CODES else INVOICE
    encoding = (info.encoding or "UTF-8").upper()
    if encoding in ("UTF-8", "UTF8", "US-ASCII", "ASCII"):
        text = xml.decode("utf-8-sig")
    else:  # Saxon gets text, so an ISO-8859-1 (etc.) document is handed over re-encoded
        text = etree.tostring(tree, encoding="unicode")
    return ParsedInvoice(tree=tree, root=root, syntax=syntax, document_type=doc_type,
                         customization_id=customization.strip(), text=text)
