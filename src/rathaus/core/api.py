"""The REST API root: one NinjaAPI, problem+json errors (RFC 9457), bearer-token auth."""

from __future__ import annotations

import json
import logging
from typing import Annotated

from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404, HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from rathaus.core.errors import DomainError, Invalid, UnsupportedMediaType
from rathaus.core.schema import check_json_value

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


MAX_DB_INT = 2**63 - 1


def _id_digits(value):
    """An id written as text (a path or query parameter) is its digits and nothing else: pydantic's lax
    mode would read "1.0", "+1", " 1" or "01" as 1, so one document had many addresses."""
    if isinstance(value, str):
        digits = value[1:] if value.startswith("-") else value  # a sign only to say "too small" for -1
        if not (digits.isascii() and digits.isdigit() and (digits[:1] != "0" or digits == "0")):
            raise PydanticCustomError("int_parsing", "Erwartet wird: ganze Zahl.")
    return value


# ids in paths and queries: positive and within BIGINT, so no database ever sees an out-of-range number
DbId = Annotated[int, BeforeValidator(_id_digits), Field(ge=1, le=MAX_DB_INT)]


def is_json_content_type(content_type: str) -> bool:
    ctype = (content_type or "").split(";")[0].strip().lower()
    return ctype == "application/json" or (ctype.startswith("application/") and ctype.endswith("+json"))


def parse_json_body(raw: bytes, prefix: str = ""):
    """Parse a JSON request body; malformed, too deeply nested or non-UTF-8 input raises a DomainError.

    prefix: JSON pointer of the value within the request (for pointers in the errors).
    """
    try:
        value = json.loads(raw)
    except RecursionError as e:
        raise Invalid("Die Daten sind zu tief verschachtelt.",
                      errors=[{"pointer": "", "message": "Zu tief verschachtelt."}]) from e
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        raise MalformedJson() from e
    try:
        check_json_value(value)
    except Invalid as e:
        for err in e.errors:
            err["pointer"] = prefix + err["pointer"]
        raise
    return value


class MalformedJson(DomainError):
    status = 400
    title = "Ungültiges JSON"

    def __init__(self, detail: str = ""):
        super().__init__(detail or "Der Inhalt der Anfrage ist kein gültiges JSON.")


class ProblemParser(Parser):
    """JSON bodies only (415 otherwise); errors surface as problem+json via HttpError.__cause__."""

    def parse_body(self, request):
        if not is_json_content_type(request.content_type):
            raise UnsupportedMediaType("Erwartet wird Content-Type: application/json.")
        value = parse_json_body(request.body)
        if not isinstance(value, dict):  # every JSON body of this API is an object
            raise Invalid("Erwartet wird ein JSON-Objekt.", errors=[{"pointer": "", "message": "Kein JSON-Objekt."}])
        return value


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
    parser=ProblemParser(),
)


def _loc_to_pointer(loc) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    if parts and parts[0] == "payload":
        parts = parts[1:]
    return "/" + "/".join(parts) if parts else ""


# German messages for the pydantic error types the API's own parameters can produce
PYDANTIC_MESSAGES = {
    "missing": "Pflichtangabe fehlt.",
    "json_invalid": "Kein gültiges JSON.",
    "dict_type": "Erwartet wird ein JSON-Objekt.",
    "model_type": "Erwartet wird ein JSON-Objekt.",
    "model_attributes_type": "Erwartet wird ein JSON-Objekt.",
    "string_type": "Erwartet wird: Text.",
    "int_type": "Erwartet wird: ganze Zahl.",
    "int_parsing": "Erwartet wird: ganze Zahl.",
    "int_from_float": "Erwartet wird: ganze Zahl.",
    "bool_type": "Erwartet wird: Ja/Nein.",
    "bool_parsing": "Erwartet wird: Ja/Nein.",
    "list_type": "Erwartet wird: Liste.",
    "extra_forbidden": "Unbekanntes Feld.",
    "greater_than_equal": "Der Wert ist zu klein.",
    "greater_than": "Der Wert ist zu klein.",
    "less_than_equal": "Der Wert ist zu groß.",
    "less_than": "Der Wert ist zu groß.",
    "literal_error": "Unzulässiger Wert.",
}


@api.exception_handler(NinjaValidationError)
def _validation(request, exc: NinjaValidationError):
    errors = []
    for e in exc.errors:
        msg = PYDANTIC_MESSAGES.get(e.get("type"), e.get("msg", "ungültig"))
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
    resp = problem(request, exc.status, exc.title, exc.detail, **extra)
    if getattr(exc, "retry_after", None):
        resp["Retry-After"] = str(exc.retry_after)
    return resp


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


STATUS_TITLES = {
    400: "Ungültige Anfrage", 401: "Nicht angemeldet", 403: "Keine Berechtigung", 404: "Nicht gefunden",
    405: "Methode nicht erlaubt", 409: "Konflikt", 413: "Anfrage zu groß", 415: "Nicht unterstützter Inhaltstyp",
    422: "Ungültige Daten", 429: "Zu viele Anfragen",
}


@api.exception_handler(HttpError)
def _http(request, exc: HttpError):
    # ninja wraps every body-parser failure in HttpError(400): show the cause (415, 400 JSON, 422 depth)
    cause = exc.__cause__
    if isinstance(cause, DomainError):
        return _domain(request, cause)
    if isinstance(cause, RequestDataTooBig):
        return _too_big(request, cause)
    if exc.status_code == 400 and str(exc).startswith("Cannot parse request body"):
        return _domain(request, MalformedJson())
    return problem(request, exc.status_code, STATUS_TITLES.get(exc.status_code, "Fehler"), str(exc))


@api.exception_handler(DataError)
def _data_error(request, exc):
    # a value the database refuses (out of range, NUL byte ...) that got past the checks above
    log.warning("database refused request data on %s: %s", request.path, exc)
    return problem(request, 400, "Ungültige Anfrage", "Die Anfrage enthält Werte, die nicht verarbeitet werden können.")


@api.exception_handler(Exception)
def _unexpected(request, exc):
    log.exception("unhandled API error")
    return problem(request, 500, "Interner Fehler", "Ein unerwarteter Fehler ist aufgetreten.")
