"""Validation messages in the form: errors per field pointer, friendlier texts per widget, and the
shared (German) validator's messages in the language of the page (`translate_message`), including
templates with one value that apps register (`register_message_templates`)."""

from __future__ import annotations

import re

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from rathaus.core import schema as schemas

from .common import _type, _widget

PATTERN_MESSAGE = schemas.PATTERN_MESSAGE


def errors_by_pointer(errors: list[dict], strip: str = "/data") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in errors or []:
        ptr = e.get("pointer") or ""
        if strip and (ptr == strip or ptr.startswith(strip + "/")):
            ptr = ptr[len(strip):]
        out.setdefault(ptr, [])
        if e.get("message") and e["message"] not in out[ptr]:
            out[ptr].append(e["message"])
    for messages in out.values():  # a format message says more than the generic pattern message
        if len(messages) > 1 and PATTERN_MESSAGE in messages:
            messages.remove(PATTERN_MESSAGE)
    return out


def _friendly(message: str, s: dict, key: str) -> str:
    widget = _widget(s, key)
    if message.startswith("Bitte füllen Sie das Pflichtfeld") or message == "Pflichtangabe fehlt.":
        if widget in ("radio", "select"):
            return _("Bitte wählen Sie eine Antwort aus.")
        if _type(s) in ("object", "array"):
            return _("Bitte machen Sie hier Angaben.")
        return _("Bitte füllen Sie dieses Feld aus.")
    if message.startswith("Erwartet wird"):
        if _type(s) == "integer":
            return _("Bitte geben Sie eine ganze Zahl ein, z. B. 3.")
        if _type(s) == "number":
            return _("Bitte geben Sie eine Zahl ein, z. B. 2,5.")
    if message == PATTERN_MESSAGE and s.get("description"):
        return _("Die Eingabe hat nicht das erwartete Format (%(hint)s).") % {"hint": s["description"]}
    return translate_message(message)


_TEMPLATES: list[str] = []
_PATTERNS: list[tuple[re.Pattern, str]] = []


def register_message_templates(*templates: str) -> None:
    """Templates with one ``%(value)s`` from the checks of other apps (the upload checks of documents),
    so that `translate_message` translates their filled-in texts too. Core imports no app: the app
    registers its templates when it is ready (documents.apps)."""
    for template in templates:
        if template not in _TEMPLATES:
            _TEMPLATES.append(template)
    _PATTERNS.clear()  # built again with the new templates on the next call


def _message_patterns() -> list[tuple[re.Pattern, str]]:
    out = []
    for template in (*schemas.PARAMETER_MESSAGES, *_TEMPLATES):
        rx = re.escape(template).replace(re.escape("%(value)s"), "(?P<value>.+?)")
        out.append((re.compile(rx), template))
    return out


def translate_message(message: str) -> str:
    """A validation message of the shared (German) validator in the language of the page: the validator's
    texts are msgids (core.schema and the registered templates); the API keeps them German."""
    if not message:
        return message
    translated = _(message)
    if translated != message or get_language() == "de":
        return translated
    if not _PATTERNS:
        _PATTERNS.extend(_message_patterns())
    for rx, template in _PATTERNS:
        m = rx.fullmatch(message)
        if m:
            return _(template) % {"value": m["value"]}
    return message
