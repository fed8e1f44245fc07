"""E-Akte operations: store documents write-once with SHA-256, check uploads."""

from __future__ import annotations

import datetime as dt
import hashlib
import mimetypes
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.utils.translation import gettext_noop as _noop

from rathaus.core.bulk import insert_new
from rathaus.core.errors import Invalid

from .models import Document

# Magic numbers of the content types we accept for uploads: the declared type must match the bytes.
MAGIC = {
    "application/pdf": [b"%PDF-"],
    "image/jpeg": [b"\xff\xd8\xff"],
    "image/png": [b"\x89PNG\r\n\x1a\n"],
}


# German (the API's language) and msgids: the web form shows them translated (core.forms.translate_message, registered in apps.py)
TOO_LARGE_MESSAGE = _noop("Die Datei ist zu groß (höchstens %(value)s MB).")
WRONG_TYPE_MESSAGE = _noop("Dateityp nicht erlaubt. Erlaubt: %(value)s.")
PARAMETER_MESSAGES = (TOO_LARGE_MESSAGE, WRONG_TYPE_MESSAGE)


@dataclass
class Upload:
    key: str
    filename: str
    content_type: str
    content: bytes


def sniff_content_type(content: bytes) -> str | None:
    for ctype, magics in MAGIC.items():
        if any(content.startswith(m) for m in magics):
            return ctype
    return None


def check_attachments(service_version, uploads: list[Upload]) -> None:
    specs = {a["key"]: a for a in service_version.attachments}
    errors = []
    for up in uploads:
        spec = specs.get(up.key)
        ptr = f"/attachments/{up.key}"
        if spec is None:
            errors.append({"pointer": ptr, "field": up.key,
                           "message": _noop("Für diese Leistung ist keine solche Anlage vorgesehen.")})
            continue
        limit = int(float(spec.get("max_size_mb", 10)) * 1024 * 1024)
        limit = min(limit, settings.RATHAUS_MAX_UPLOAD_BYTES)
        if len(up.content) == 0:
            errors.append({"pointer": ptr, "message": _noop("Die Datei ist leer."), "field": spec["title"]})
        elif len(up.content) > limit:
            errors.append({"pointer": ptr, "message": TOO_LARGE_MESSAGE % {"value": limit // (1024 * 1024)},
                           "field": spec["title"]})
        allowed = spec.get("content_types") or list(MAGIC)
        actual = sniff_content_type(up.content)
        if up.content and (actual is None or actual not in allowed):
            names = ", ".join(mimetypes.guess_extension(c) or c for c in allowed)
            errors.append({"pointer": ptr, "message": WRONG_TYPE_MESSAGE % {"value": names},
                           "field": spec["title"]})
        else:
            up.content_type = actual or up.content_type
    present = {u.key for u in uploads}
    for key, spec in specs.items():
        if spec.get("required") and key not in present:
            errors.append({"pointer": f"/attachments/{key}",
                           "message": _noop("Diese Anlage ist erforderlich."), "field": spec["title"]})
    if errors:
        raise Invalid("Die Anlagen sind fehlerhaft.", errors=errors)


def _safe_filename(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "._- " else "_" for c in (name or "datei"))
    return keep.strip()[:120] or "datei"


def sha256_of(f) -> tuple[str, int]:
    """SHA-256 (hex) and size of a binary file object from its current position, read in 1-MB chunks."""
    h, size = hashlib.sha256(), 0
    for chunk in iter(lambda: f.read(1024 * 1024), b""):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def store_document(*, tenant, case, kind: str, title: str, filename: str, content_type: str, content: bytes,
                   actor: str, released: bool = False, previous: Document | None = None,
                   meta: dict | None = None, sha256: str | None = None) -> Document:
    """Store content write-once: a new file name per version, never overwriting.

    content: bytes, or a binary file object (read in chunks: large files are not held in memory).
    sha256: the content's SHA-256 if the caller has just computed it (bytes only).
    The row is inserted with a prepared statement (`core.bulk.insert_new`: the same values as the ORM's
    `create`, without its per-call query compilation – notices and received invoices are hot paths)."""
    if isinstance(content, bytes | bytearray):
        sha = sha256 or hashlib.sha256(content).hexdigest()
        size, payload = len(content), ContentFile(content)
    else:
        content.seek(0)
        sha, size = sha256_of(content)
        content.seek(0)
        payload = File(content)
    today = dt.date.today()
    safe = _safe_filename(filename)
    path = f"{tenant.slug}/{today:%Y/%m}/{uuid.uuid4().hex}-{safe}"
    saved = default_storage.save(path, payload)
    retention = None
    if case is not None:
        years = case.service_version.retention_years
        retention = dt.date(today.year + years + 1, 1, 1)  # retention runs to the end of the year + N
    doc = Document(
        tenant=tenant, case=case, kind=kind, title=title, filename=safe,
        content_type=content_type, size=size, sha256=sha,
        version=(previous.version + 1) if previous else 1, previous=previous, file=saved,
        created_by=actor, retention_until=retention, released_to_applicant=released, meta=meta or {},
    )
    insert_new([doc])
    return doc


def store_attachments(case, uploads: list[Upload], actor: str) -> list[Document]:
    specs = {a["key"]: a for a in case.service_version.attachments}
    return [
        store_document(tenant=case.tenant, case=case, kind=Document.Kind.ATTACHMENT,
                       title=specs.get(u.key, {}).get("title", u.key), filename=u.filename,
                       content_type=u.content_type, content=u.content, actor=actor)
        for u in uploads
    ]


# --------------------------------------------------------------------------- integrity check

@dataclass(frozen=True)
class DocumentProblem:
    document_id: int
    tenant: str
    case: str          # the Aktenzeichen, "" outside a case
    title: str
    path: str
    problem: str       # German, for the operator


@dataclass
class VerifyReport:
    checked: int = 0
    bytes: int = 0
    found: int = 0  # documents with a problem (the first `limit_problems` of them are listed)
    problems: list[DocumentProblem] = field(default_factory=list)


def verify_documents(*, tenant=None, since: dt.date | None = None, limit_problems: int = 1000) -> VerifyReport:
    """Read every stored document back and compare it with its row: the file must exist and have the recorded
    size and SHA-256. Finds content lost on the way to the disk (a crash before the disk had it, see
    documents.storage) and content changed behind rathaus' back – the E-Akte's promise that nothing is lost or
    silently replaced, checked. Streams the rows and reads each file in 1-MB chunks (memory stays flat);
    a nightly job for the operators (`rathaus documents verify`)."""
    report = VerifyReport()
    qs = Document.objects.select_related("tenant", "case").order_by("id")
    if tenant is not None:
        qs = qs.filter(tenant=tenant)
    if since is not None:
        qs = qs.filter(created_at__date__gte=since)
    for doc in qs.iterator(chunk_size=500):
        report.checked += 1
        problem = _check_file(doc)
        if not problem:
            report.bytes += doc.size
            continue
        report.found += 1
        if len(report.problems) < limit_problems:
            report.problems.append(DocumentProblem(doc.pk, doc.tenant.slug, doc.case.reference if doc.case_id else "",
                                                   doc.title, doc.file.name, problem))
    return report


def _check_file(doc: Document) -> str:
    try:
        f = default_storage.open(doc.file.name, "rb")
    except FileNotFoundError:
        return "Datei fehlt"
    except OSError as e:
        return f"Datei nicht lesbar: {e.strerror or e}"
    try:
        with f:
            sha, size = sha256_of(f)
    except OSError as e:
        return f"Datei nicht lesbar: {e.strerror or e}"
    if size != doc.size:
        return f"Größe {size} statt {doc.size} Bytes"
    if sha != doc.sha256:
        return "Inhalt verändert (SHA-256 stimmt nicht)"
    return ""


# --------------------------------------------------------------------------- who may read

CASE_ROLES = {"clerk", "approver", "treasury", "accounting", "admin"}
FINANCE_ROLES = {"treasury", "accounting", "admin"}


# Who may read a document of a case is decided by the app that owns cases (need to know), registered from its
# AppConfig.ready(): the file store knows its owners as references only. Unregistered: nobody (fail closed).
_case_reader: list = []


def register_case_reader(check) -> None:
    """`check(membership, case_id) -> bool`: whether the member may read that case."""
    _case_reader[:] = [check]


def may_read(membership, doc: Document) -> bool:
    """Role check on top of the tenant check: case documents for case workers and finance, of cases they may
    read (the registered case reader: need to know); documents outside a case (bank statements, payment
    files, inbound invoices) for treasury/accounting, and inbound invoices also for the clerks and approvers
    who check them."""
    roles = set(membership.roles)
    if doc.case_id is not None:
        return bool(roles & CASE_ROLES) and bool(_case_reader) and _case_reader[0](membership, doc.case_id)
    if doc.kind == Document.Kind.INVOICE:
        return bool(roles & (FINANCE_ROLES | {"clerk", "approver"}))
    return bool(roles & FINANCE_ROLES)
