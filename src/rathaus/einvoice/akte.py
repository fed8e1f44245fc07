"""File an incoming e-invoice into the E-Akte: the original XML, the German view as PDF/A and every
embedded attachment (BG-24) as its own write-once document."""

from __future__ import annotations

from rathaus.documents.models import Document
from rathaus.documents.services import sniff_content_type, store_document

from .model import Invoice
from .render import render_invoice_pdf


def file_invoice(*, tenant, case, invoice: Invoice, xml: bytes, actor: str) -> list[Document]:
    """Store XML, visualisation and attachments; returns the documents in that order."""
    number = invoice.number or "ohne Nummer"
    label = "Gutschrift" if invoice.is_credit_note else "Rechnung"
    meta = {"einvoice": {"syntax": invoice.syntax, "number": invoice.number, "leitweg_id": invoice.buyer_reference,
                         "seller": invoice.seller.name}}
    docs = [
        store_document(tenant=tenant, case=case, kind=Document.Kind.INVOICE, title=f"{label} {number} (XML)",
                       filename=f"{label.lower()}-{number}.xml", content_type="application/xml", content=xml,
                       actor=actor),
        store_document(tenant=tenant, case=case, kind=Document.Kind.INVOICE, title=f"{label} {number} (Sichtansicht)",
                       filename=f"{label.lower()}-{number}.pdf", content_type="application/pdf",
                       content=render_invoice_pdf(invoice), actor=actor),
    ]
    for i, att in enumerate(invoice.embedded_files(), start=1):
        sniffed = sniff_content_type(att.content)
        doc = store_document(
            tenant=tenant, case=case, kind=Document.Kind.ATTACHMENT,
            title=f"Anlage zu {label} {number}: {att.description or att.id or att.filename or i}",
            filename=att.filename or f"anlage-{i}", content_type=sniffed or "application/octet-stream",
            content=att.content, actor=actor)
        doc.meta = {"einvoice_attachment": {"id": att.id, "declared_mime": att.mime_code, "bt": "BT-125"}}
        doc.save(update_fields=["meta"])
        docs.append(doc)
    for doc in docs[:2]:
        doc.meta = meta
        doc.save(update_fields=["meta"])
    return docs
