"""JSON Schema 2020-12 validation with German messages and JSON-pointer locations."""

from __future__ import annotations

import re
import threading

from django.utils.translation import gettext_noop as _noop
from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as _JSError

from .errors import Invalid
from .jsonpointer import pointer
from .validators import is_valid_bic, is_valid_iban

format_checker = FormatChecker()


@format_checker.checks("iban")
def _iban(value):
    return not isinstance(value, str) or is_valid_iban(value)


@format_checker.checks("bic")
def _bic(value):
    return not isinstance(value, str) or is_valid_bic(value)


@format_checker.checks("de-postal-code")
def _plz(value):
    return not isinstance(value, str) or bool(re.fullmatch(r"\d{5}", value))


@format_checker.checks("de-tax-id")
def _taxid(value):
    from stdnum.de import idnr

    return not isinstance(value, str) or idnr.is_valid(value)


_cache: dict = {}
_lock = threading.Lock()


def validator_for(schema: dict, cache_key=None) -> Draft202012Validator:
    """A (cached) validator. Pass a stable cache_key (e.g. ("form", version_id)) on hot paths."""
    if cache_key is None:
        return Draft202012Validator(schema, format_checker=format_checker)
    v = _cache.get(cache_key)
    if v is None:
        with _lock:
            if len(_cache) > 2000:
                _cache.clear()
            v = _cache[cache_key] = Draft202012Validator(schema, format_checker=format_checker)
    return v


def _title_at(schema: dict, path) -> str | None:
    node = schema
    for p in path:
        if isinstance(p, int):
            node = node.get("items", {}) if isinstance(node, dict) else {}
        else:
            node = (node.get("properties") or {}).get(p, {}) if isinstance(node, dict) else {}
    return node.get("title") if isinstance(node, dict) else None


# The messages are German, the language of the API; they are also msgids, so the web form shows them in the
# language of the page (core.forms.translate_message). PARAMETER_MESSAGES: the templates with one value.
FORMAT_MESSAGES = {
    "email": _noop("Bitte geben Sie eine gültige E-Mail-Adresse an."),
    "date": _noop("Bitte geben Sie ein gültiges Datum an (TT.MM.JJJJ)."),
    "iban": _noop("Die IBAN ist ungültig. Bitte prüfen Sie Länge und Prüfziffer."),
    "bic": _noop("Die BIC ist ungültig."),
    "de-postal-code": _noop("Die Postleitzahl besteht aus 5 Ziffern."),
    "de-tax-id": _noop("Die Steuer-Identifikationsnummer ist ungültig."),
}
PATTERN_MESSAGE = _noop("Die Eingabe hat nicht das erwartete Format.")
FILL_IN_MESSAGE = _noop("Bitte füllen Sie dieses Feld aus.")
MESSAGES = {
    "enum": _noop("Bitte wählen Sie einen der vorgegebenen Werte."),
    "const": _noop("Dieser Wert ist hier nicht zulässig."),
    "pattern": PATTERN_MESSAGE,
    "additionalProperties": _noop("Unbekanntes Feld."),
    "unevaluatedProperties": _noop("Unbekanntes Feld."),
    "dependentRequired": _noop("Eine zugehörige Pflichtangabe fehlt."),
}
VALUE_MESSAGES = {
    "format": _noop("Ungültiges Format (%(value)s)."),
    "minLength": _noop("Mindestens %(value)s Zeichen."),
    "maxLength": _noop("Höchstens %(value)s Zeichen."),
    "minimum": _noop("Der Wert muss mindestens %(value)s sein."),
    "maximum": _noop("Der Wert darf höchstens %(value)s sein."),
    "exclusiveMinimum": _noop("Der Wert muss größer als %(value)s sein."),
    "exclusiveMaximum": _noop("Der Wert muss kleiner als %(value)s sein."),
    "minItems": _noop("Bitte geben Sie mindestens %(value)s Einträge an."),
    "maxItems": _noop("Höchstens %(value)s Einträge sind möglich."),
}
UNKNOWN_FIELD_MESSAGE = _noop("Unbekanntes Feld: %(value)s")
PARAMETER_MESSAGES = (*VALUE_MESSAGES.values(), UNKNOWN_FIELD_MESSAGE)


def german_message(err: _JSError) -> str:
    v = err.validator
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else ""
        return f"Bitte füllen Sie das Pflichtfeld „{missing}“ aus." if missing else "Pflichtangabe fehlt."
    if v == "type":
        expected = err.validator_value
        names = {"string": "Text", "integer": "ganze Zahl", "number": "Zahl", "boolean": "Ja/Nein",
                 "object": "Objekt", "array": "Liste", "null": "leer"}
        if isinstance(expected, list):
            exp = " oder ".join(names.get(e, e) for e in expected)
        else:
            exp = names.get(expected, expected)
        return f"Erwartet wird: {exp}."
    if v == "format" and err.validator_value in FORMAT_MESSAGES:
        return FORMAT_MESSAGES[err.validator_value]
    if v == "minLength" and err.validator_value == 1:
        return FILL_IN_MESSAGE
    if v in MESSAGES:
        return MESSAGES[v]
    if v in VALUE_MESSAGES:
        return VALUE_MESSAGES[v] % {"value": err.validator_value}
    return err.message


def validate(schema: dict, instance, prefix: str = "", cache_key=None) -> list[dict]:
    """Return a list of {"pointer", "message", "field"} sorted by location (empty if valid)."""
    validator = validator_for(schema, cache_key)
    errors = []
    seen = set()
    for err in validator.iter_errors(instance):
        for e in _leaf_errors(err):
            path = list(e.absolute_path)
            if e.validator == "required" and "'" in e.message:
                path = path + [e.message.split("'")[1]]
            if e.validator in ("additionalProperties", "unevaluatedProperties"):
                # one error per unknown property, pointing at the property itself
                for name in _unknown_properties(e):
                    ptr = prefix + pointer(path + [name])
                    msg = UNKNOWN_FIELD_MESSAGE % {"value": name}
                    if (ptr, msg) not in seen:
                        seen.add((ptr, msg))
                        errors.append({"pointer": ptr, "message": msg, "field": name})
                continue
            ptr = prefix + pointer(path)
            msg = german_message(e)
            if (ptr, msg) in seen:
                continue
            seen.add((ptr, msg))
            errors.append({"pointer": ptr, "message": msg, "field": _title_at(schema, path) or ""})
    errors.sort(key=lambda x: x["pointer"])
    return errors


def _unknown_properties(err: _JSError) -> list[str]:
    """Names of the properties an additionalProperties/unevaluatedProperties error refers to."""
    inst = err.instance if isinstance(err.instance, dict) else {}
    if err.validator == "additionalProperties" and isinstance(err.schema, dict):
        known = set(err.schema.get("properties") or {})
        patterns = list(err.schema.get("patternProperties") or {})
        names = [k for k in inst if k not in known and not any(re.search(p, k) for p in patterns)]
        if names:
            return names
    # unevaluatedProperties (or a fallback): the quoted names in jsonschema's message
    names = [n for n in re.findall(r"'((?:[^'\\]|\\.)*)'", err.message.split("(", 1)[-1]) if n in inst]
    return names or [""]


def _leaf_errors(err: _JSError):
    if err.context and err.validator in ("anyOf", "oneOf", "allOf"):
        # report the branch closest to matching
        best = min(err.context, key=lambda e: len(list(e.absolute_path)) * -1)
        yield from _leaf_errors(best)
    else:
        yield err


MAX_JSON_DEPTH = 64
NUL_MESSAGE = "Steuerzeichen (NUL) sind nicht erlaubt."
SURROGATE_MESSAGE = ("Ungültiges Zeichen: ein einzelnes UTF-16-Ersatzzeichen (\\ud800–\\udfff) ist kein Text "
                     "und kann nicht gespeichert werden.")
# what PostgreSQL's text cannot hold: NUL, and lone surrogates (JSON's "\ud800" escapes decode to them)
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(text: str) -> str | None:
    """The message for text a database cannot store (NUL, a lone surrogate), or None if it is fine."""
    if text.isascii():
        return NUL_MESSAGE if "\x00" in text else None
    m = _UNSTORABLE.search(text)
    if m is None:
        return None
    return NUL_MESSAGE if m.group() == "\x00" else SURROGATE_MESSAGE


def check_json_value(value, limit: int = MAX_JSON_DEPTH, prefix: str = "") -> None:
    """Refuse JSON nested deeper than limit or holding text PostgreSQL cannot store (NUL, lone surrogates),
    in values and in keys, with the pointer of the place.

    Iterative, so it is safe for any input that json.loads accepted.
    """
    stack: list[tuple[object, tuple]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            items = list(node.items())
        elif isinstance(node, list):
            items = list(enumerate(node))
        else:
            if isinstance(node, str) and (message := unstorable_text(node)):
                raise Invalid(errors=[{"pointer": prefix + pointer(path), "message": message}])
            continue
        if len(path) >= limit:
            raise Invalid("Die Daten sind zu tief verschachtelt.",
                          errors=[{"pointer": "", "message": f"Höchstens {limit} Ebenen."}])
        for k, child in items:
            if isinstance(k, str) and (message := unstorable_text(k)):
                raise Invalid(errors=[{"pointer": prefix + pointer(path), "message": message}])
            stack.append((child, (*path, k)))

