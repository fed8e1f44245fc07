"""Document download (role- and tenant-checked)."""

from ninja import Router

from rathaus.core.api import DbId
from rathaus.core.errors import Forbidden, NotFound
from rathaus.core.web import document_response
from rathaus.tenants.auth import TokenAuth

from .models import Document
from .services import may_read

router = Router(tags=["E-Akte"], auth=TokenAuth())


@router.get("/documents/{doc_id}/content", summary="Inhalt eines Dokuments", response={200: None})
def content(request, doc_id: DbId):
    doc = Document.objects.filter(pk=doc_id, tenant_id=request.membership.tenant_id).first()
    if doc is None:
        raise NotFound("Dokument nicht gefunden.")
    if not may_read(request.membership, doc):
        raise Forbidden("Dieses Dokument ist für Ihre Rolle nicht freigegeben.")
    return document_response(doc)
