"""The REST API root: one NinjaAPI, problem+json errors (RFC 9457), bearer-token auth."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer

from rathaus.core.errors import DomainError
from rathaus.tenants.services import authenticate_token

log = logging.getLogger("rathaus.api")
PROBLEM = "application/problem+json"


def problem(request: HttpRequest | None, status: int, title: str, detail: str = "", **extra) -> JsonResponse:
    body = {"type": extra.pop("type", "about:blank"), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.path
    body.update(extra)
    return JsonResponse(body, status=status, content_type=PROBLEM, json_dumps_params={"ensure_ascii": False})


class TokenAuth(HttpBearer):
    openapi_description = "API-Token (`rathaus token BENUTZER`) als `Authorization: Bearer <token>`."

    def authenticate(self, request, token):
        found = authenticate_token(token)
        if found is None:
            return None
        request.user, request.membership = found
        return found[1]


api = NinjaAPI(
    title="rathaus API",
    version="1",
    description=(
        "REST-API von rathaus: Leistungskatalog, Antragstellung (ohne Anmeldung), Vorgänge und Aufgaben "
        "(mit API-Token). Fehler werden als `application/problem+json` (RFC 9457) beantwortet."
    ),
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _loc_to_pointer(loc) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    return "/" + "/".join(parts) if parts else ""


@api.exception_handler(NinjaValidationError)
def _validation(request, exc: NinjaValidationError):
    errors = []
    for e in exc.errors:
        msg = e.get("msg", "ungültig")
        if e.get("type") == "missing":
            msg = "Pflichtangabe fehlt."
        elif e.get("type") == "json_invalid":
            msg = "Kein gültiges JSON."
        errors.append({"pointer": _loc_to_pointer(e.get("loc", ())), "message": msg})
    if any(e.get("type") == "json_invalid" for e in exc.errors):
        return problem(request, 400, "Ungültiges JSON", "Der Inhalt der Anfrage ist kein gültiges JSON.",
                       errors=errors)
    return problem(request, 422, "Ungültige Daten", "Die Anfrage entspricht nicht dem erwarteten Format.",
                   errors=errors)


@api.exception_handler(DomainError)
def _domain(request, exc: DomainError):
    extra = dict(exc.extra)
    errors = getattr(exc, "errors", None)
    if errors is not None:
        extra["errors"] = [{"pointer": e["pointer"], "message": e["message"]} for e in errors]
    return problem(request, exc.status, exc.title, exc.detail, **extra)


@api.exception_handler(AuthenticationError)
def _auth(request, exc):
    resp = problem(request, 401, "Nicht angemeldet", "Gültiges API-Token erforderlich (Authorization: Bearer …).")
    resp["WWW-Authenticate"] = "Bearer"
    return resp


@api.exception_handler(RequestDataTooBig)
def _too_big(request, exc):
    return problem(request, 413, "Anfrage zu groß", "Der Inhalt der Anfrage überschreitet die zulässige Größe.")


@api.exception_handler(Http404)
def _404(request, exc):
    return problem(request, 404, "Nicht gefunden", str(exc) or "")


@api.exception_handler(HttpError)
def _http(request, exc: HttpError):
    return problem(request, exc.status_code, "Fehler", str(exc))


@api.exception_handler(Exception)
def _unexpected(request, exc):
    log.exception("unhandled API error")
    return problem(request, 500, "Interner Fehler", "Ein unerwarteter Fehler ist aufgetreten.")
