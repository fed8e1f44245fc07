"""Request helpers shared by the apps' views and API handlers, each defined once.

- `staff_view`: a staff page's decorator (login, membership in the request's tenant).
- `clean_key`: a lookup string from a URL, or None where it cannot name anything.
- `read_limited_body`: the raw request body, bounded, spooled to disk beyond 8 MB.
- `read_form`: the fields and files of a form body, its faults as 400/413 instead of a 500.
- `document_response`: a stored document as a download (E-Akte, receipts, SEPA files).
- `LengthRequired`: middleware answering 411 to a chunked request body (Django would read it as empty).

They know requests and files, no app: the tenant and membership come from `request` (set by the
tenants middleware or the API's token auth), a document is anything with the fields of
`documents.Document` (`file`, `content_type`, `filename`, `sha256`).
"""

from __future__ import annotations

import tempfile
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.http import FileResponse, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

from .errors import Invalid, PayloadTooLarge

SPOOL_IN_MEMORY = 8 * 1024 * 1024


def staff_view(view):
    """Login required; the caller's membership in the request's tenant is passed on (else 403)."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        bool(request.tenant)  # resolving the tenant sets request.membership for staff
        membership = getattr(request, "membership", None)
        if membership is None:
            raise PermissionDenied("Sie gehören zu keiner Verwaltung in rathaus.")
        return view(request, membership, *args, **kwargs)

    return wrapper


def clean_key(value: str | None, max_length: int = 200) -> str | None:
    """A lookup string from a URL (slug, key, reference) or None if it cannot name anything (NUL, too long)."""
    if value is None or "\x00" in value or len(value) > max_length:
        return None
    return value


def read_limited_body(request, limit: int, too_large: str | None = None):
    """The raw request body as a spooled temporary file and its size, read from the stream (not
    `request.body`, which stops at Django's 2.5 MB), refused with 413 beyond `limit` bytes – before
    reading anything when the Content-Length says so. The caller closes the file."""
    message = too_large or f"Die Datei ist zu groß (höchstens {limit // (1024 * 1024)} MB)."
    length = request.META.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(message)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    already = getattr(request, "_body", None)  # read before (e.g. by a parser): no stream left
    chunks = [already] if already is not None else iter(lambda: request.read(1024 * 1024), b"")
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit:
            spool.close()
            raise PayloadTooLarge(message)
        spool.write(chunk)
    spool.seek(0)
    return spool, size


def read_form(request):
    """`(request.POST, request.FILES)`; beyond Django's limits (size, number of fields) a 413, a broken
    multipart body (no or a wrong boundary, cut short) a 4xx – never the parser's exception as a 500."""
    try:
        return request.POST, request.FILES
    except (RequestDataTooBig, TooManyFieldsSent) as e:
        raise PayloadTooLarge("Die Formularfelder überschreiten die zulässige Größe.") from e
    except MultiPartParserError as e:
        raise Invalid("Der mehrteilige Inhalt (multipart/form-data) ist fehlerhaft.") from e


def document_response(doc, inline: bool = True) -> FileResponse:
    """A stored document as the answer: its own content type, never sniffed, sandboxed, with its digest."""
    resp = FileResponse(doc.file.open("rb"), content_type=doc.content_type, as_attachment=not inline,
                        filename=doc.filename)
    resp["X-Content-Type-Options"] = "nosniff"
    resp["Content-Security-Policy"] = "sandbox"
    resp["Digest"] = f"sha-256={doc.sha256}"
    return resp


class LengthRequired:
    """Middleware: a request body sent chunked (Transfer-Encoding without Content-Length) is answered 411.
    Django reads a body by its Content-Length; without one it saw an empty body, so a chunked submission
    was taken for an empty one. 411 tells the client to send the length."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        if meta.get("HTTP_TRANSFER_ENCODING") and not meta.get("CONTENT_LENGTH") and request.method in (
                "POST", "PUT", "PATCH"):
            body = {"type": "about:blank", "title": "Länge erforderlich", "status": 411,
                    "detail": "Der Inhalt der Anfrage muss mit Content-Length gesendet werden (nicht chunked).",
                    "instance": request.path}
            if request.path.startswith("/api/"):
                return JsonResponse(body, status=411, content_type="application/problem+json",
                                    json_dumps_params={"ensure_ascii": False})
            return HttpResponse(body["detail"], status=411, content_type="text/plain; charset=utf-8")
        return self.get_response(request)
