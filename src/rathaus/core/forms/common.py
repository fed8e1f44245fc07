"""Schema helpers shared by reading, rendering and displaying forms: the type and widget of a schema
node, properties in the author's order, enum labels, JSON pointer parts, field ids and HTML attributes."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.translation import gettext_lazy

MAX_ROWS = 50  # upper bound of rows per repeatable group taken from a request
MISSING = object()
DECISION_LABELS = {"approve": gettext_lazy("Bewilligen"), "reject": gettext_lazy("Ablehnen")}


def _type(s: dict) -> str:
    t = s.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), "string")
    if t is None:
        if "properties" in s:
            return "object"
        if "items" in s:
            return "array"
        if "enum" in s:
            return "string"
    return t or "string"


def _esc_part(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _unesc_part(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _props(s: dict) -> dict:
    """Properties in the author's order: PostgreSQL's jsonb does not keep key order, so publishing
    records it in `x-order` (see catalog.services.record_property_order)."""
    props = s.get("properties") or {}
    order = s.get("x-order")
    if isinstance(order, list):
        ordered = {k: props[k] for k in order if k in props}
        ordered.update({k: v for k, v in props.items() if k not in ordered})
        return ordered
    return props


def _enum_labels(s: dict) -> list[tuple[str, str]]:
    values = s.get("enum") or []
    labels = s.get("x-enum-labels") or []
    out = []
    for i, v in enumerate(values):
        if i < len(labels):
            label = labels[i]
        elif v in DECISION_LABELS and set(values) <= set(DECISION_LABELS):
            label = DECISION_LABELS[v]
        else:
            label = str(v)
        out.append((_str_value(v), str(label)))
    return out


def _str_value(v) -> str:
    if v is True:
        return "true"
    if v is False:
        return "false"
    return "" if v is None else str(v)


def _is_decision(s: dict) -> bool:
    return set(s.get("enum") or []) == {"approve", "reject"}


def _widget(s: dict, key: str = "") -> str:
    t = _type(s)
    w = s.get("x-widget")
    if "enum" in s:
        if w in ("radio", "select"):
            return w
        return "radio" if _is_decision(s) else "select"
    if t == "boolean":
        return "radio" if w == "radio" else "checkbox"
    if t in ("integer", "number"):
        return "number"
    if w == "textarea" or (key == "reason" and t == "string"):
        return "textarea"
    if w == "date" or s.get("format") == "date":
        return "date"
    if s.get("format") == "email":
        return "email"
    return "text"


def field_id(prefix: str, ptr: str) -> str:
    parts = [re.sub(r"[^A-Za-z0-9_]", "_", _unesc_part(p)) for p in ptr.split("/") if p != ""]
    return "-".join([prefix, *parts])


def _attrs(**kw) -> str:
    out = []
    for k, v in kw.items():
        if v is None or v is False:
            continue
        name = k.rstrip("_").replace("_", "-")
        if v is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{escape(str(v))}"')
    return "".join(out)
