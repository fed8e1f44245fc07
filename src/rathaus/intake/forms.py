"""JSON Schema → accessible HTML form (no JavaScript needed) and POST → JSON-typed data.

Field names are JSON pointers (``/halter/nachname``, ``/hunde/0/rasse``), so a validation error's
pointer (``/data/hunde/0/rasse`` minus ``/data``) names the field it belongs to. Repeatable groups
(arrays of objects) carry a hidden row count (``_rows:<pointer>``) and submit buttons to add
(``_add:<pointer>``) or remove (``_remove:<pointer>/<index>``) a row; the server re-renders the form
with all input kept.

Rendering follows the GOV.UK / KERN patterns: label, hint and error message tied to the control with
``aria-describedby``, ``aria-invalid`` on invalid controls, radio groups and objects as fieldsets.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from rathaus.core import schema as schemas

MAX_ROWS = 50  # upper bound of rows per repeatable group taken from a request
MISSING = object()
DECISION_LABELS = {"approve": gettext_lazy("Bewilligen"), "reject": gettext_lazy("Ablehnen")}
PATTERN_MESSAGE = schemas.PATTERN_MESSAGE


@dataclass
class FormState:
    """What the user entered (raw strings, keyed by pointer), rows per group and errors per pointer."""

    values: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    focus: str | None = None  # pointer of a freshly added row (gets autofocus)


@dataclass
class Parsed:
    data: dict
    state: FormState
    action: str | None = None  # None (submit), "add" or "remove"


# --------------------------------------------------------------------------- schema helpers

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


# --------------------------------------------------------------------------- parsing

def _parse_date(raw: str) -> str:
    m = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", raw)
    if m:
        try:
            return dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
        except ValueError:
            return raw
    return raw


def parse_number(raw: str, integer: bool = False):
    """German or international notation ("2,5", "1.234,5", "2.5") → int/float; raw string if not a number."""
    r = raw.replace(" ", "").replace("\u00a0", "")
    if "," in r and "." in r:
        # both separators ("1.234,5" German, "1,234.5" English, both forms are shown in two languages): the
        # last one is the decimal separator, the other must group thousands, else it is not a number
        dec = "," if r.rfind(",") > r.rfind(".") else "."
        whole, _, frac = r.rpartition(dec)
        group = "." if dec == "," else ","
        if not (re.fullmatch(rf"[+-]?\d{{1,3}}(?:{re.escape(group)}\d{{3}})+", whole) and frac.isdigit()):
            return raw
        r = f"{whole.replace(group, '')}.{frac}"
    elif "," in r:
        r = r.replace(",", ".")
    if re.fullmatch(r"[+-]?\d+", r):
        return int(r)
    if integer:
        if re.fullmatch(r"[+-]?\d+\.0*", r):
            return int(Decimal(r))
        return raw
    if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)", r):
        try:
            d = Decimal(r)
        except InvalidOperation:
            return raw
        return int(d) if d == d.to_integral_value() and "." not in r else float(d)
    return raw


def _enum_value(s: dict, raw: str):
    for v in s.get("enum") or []:
        if _str_value(v) == raw:
            return v
    return raw  # not an allowed value: validation reports it


class _Parser:
    def __init__(self, post, action: tuple | None):
        self.post = post
        self.action = action
        self.compact = action is None
        self.state = FormState()

    def rows_in(self, inp: str) -> int:
        raw = self.post.get(f"_rows:{inp}") or ""
        n = int(raw) if raw.isdigit() else 0
        pref = inp + "/"
        for k in self.post.keys():
            if k.startswith(pref):
                idx = k[len(pref):].split("/", 1)[0]
                if idx.isdigit():
                    n = max(n, int(idx) + 1)
        return min(n, MAX_ROWS)

    def node(self, s: dict, inp: str, out: str, key: str = ""):
        """(value or MISSING, has_content) of the schema node s read at pointer inp, kept at out."""
        t = _type(s)
        if t == "object":
            obj, content = {}, False
            required = set(s.get("required") or [])
            for k, sub in _props(s).items():
                p = "/" + _esc_part(k)
                v, c = self.node(sub, inp + p, out + p, k)
                content = content or c
                if v is MISSING:
                    continue
                if _type(sub) in ("object", "array") and not c and k not in required:
                    continue  # an empty optional group is left out
                obj[k] = v
            return obj, content
        if t == "array":
            items = s.get("items") or {}
            if "enum" in items:  # several choices as checkboxes
                raw = [x for x in self.post.getlist(inp) if x]
                self.state.values[out] = raw
                vals = [_enum_value(items, x) for x in raw]
                return vals, bool(vals)
            n = self.rows_in(inp)
            result, kept = [], 0
            for i in range(n):
                if self.action and self.action[0] == "remove" and self.action[1] == inp and self.action[2] == i:
                    continue
                o = f"{out}/{kept}"
                v, c = self.node(items, f"{inp}/{i}", o)
                if self.compact and not c:
                    for k in [k for k in self.state.values if k == o or k.startswith(o + "/")]:
                        del self.state.values[k]
                    continue
                kept += 1
                if v is not MISSING:
                    result.append(v)
            rows = kept
            if self.action and self.action[0] == "add" and self.action[1] == inp:
                self.state.focus = f"{out}/{max(rows, int(s.get('minItems') or 0), 1)}"
                rows = max(rows, int(s.get("minItems") or 0), 1) + 1
            self.state.rows[out] = rows
            return result, bool(result)
        raw = self.post.get(inp)
        widget = _widget(s, key)
        if t == "boolean" and widget == "checkbox":
            checked = raw not in (None, "")
            self.state.values[out] = "on" if checked else ""
            return checked, checked
        raw = (raw or "").strip()
        self.state.values[out] = raw
        if raw == "":
            return MISSING, False
        if "enum" in s:
            return _enum_value(s, raw), True
        if t == "boolean":
            return {"true": True, "false": False}.get(raw, raw), True
        if t in ("integer", "number"):
            return parse_number(raw, integer=t == "integer"), True
        if s.get("format") == "date":
            iso = _parse_date(raw)
            self.state.values[out] = iso
            return iso, True
        return raw, True


def _action_of(post) -> tuple | None:
    for k in post.keys():
        if k.startswith("_add:"):
            return ("add", k[5:])
        if k.startswith("_remove:"):
            ptr, _, idx = k[8:].rpartition("/")
            if idx.isdigit():
                return ("remove", ptr, int(idx))
    return None


def parse(schema: dict, post) -> Parsed:
    """Read a submitted form: typed data (empty optional fields left out) and the state to re-render."""
    action = _action_of(post)
    p = _Parser(post, action)
    data, _ = p.node(schema, "", "")
    return Parsed(data=data if isinstance(data, dict) else {}, state=p.state,
                  action=action[0] if action else None)


def initial_state(schema: dict, data: dict | None = None) -> FormState:
    """State for a fresh form: schema defaults, or the values of existing data."""
    st = FormState()

    def walk(s, ptr, value, key=""):
        t = _type(s)
        if t == "object":
            for k, sub in _props(s).items():
                v = value.get(k, MISSING) if isinstance(value, dict) else MISSING
                walk(sub, f"{ptr}/{_esc_part(k)}", v, k)
        elif t == "array":
            items = s.get("items") or {}
            if "enum" in items:
                st.values[ptr] = [_str_value(x) for x in value] if isinstance(value, list) else []
                return
            rows = value if isinstance(value, list) else []
            n = max(len(rows), int(s.get("minItems") or 0), 1)
            st.rows[ptr] = n
            for i in range(n):
                walk(items, f"{ptr}/{i}", rows[i] if i < len(rows) else MISSING)
        else:
            if value is MISSING:
                value = s.get("default", MISSING)
            if value is MISSING:
                return
            if t == "boolean" and _widget(s, key) == "checkbox":
                st.values[ptr] = "on" if value else ""
            elif t == "number" and isinstance(value, float):
                st.values[ptr] = format_number(value)
            else:
                st.values[ptr] = _str_value(value)

    walk(schema, "", data if isinstance(data, dict) else MISSING)
    return st


# --------------------------------------------------------------------------- errors

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


def _message_patterns() -> list[tuple[re.Pattern, str]]:
    out = []
    from rathaus.documents.services import PARAMETER_MESSAGES as UPLOAD_MESSAGES

    for template in (*schemas.PARAMETER_MESSAGES, *UPLOAD_MESSAGES):
        rx = re.escape(template).replace(re.escape("%(value)s"), "(?P<value>.+?)")
        out.append((re.compile(rx), template))
    return out


_PATTERNS: list[tuple[re.Pattern, str]] = []


def translate_message(message: str) -> str:
    """A validation message of the shared (German) validator in the language of the page: the validator's
    texts are msgids (core.schema, documents.services); the API keeps them German."""
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


# --------------------------------------------------------------------------- rendering

@dataclass
class _Entry:
    id: str
    label: str
    schema: dict
    key: str


class FormRenderer:
    """Renders a schema with a FormState; collects field ids and labels for the error summary."""

    def __init__(self, schema: dict, state: FormState | None = None, *, prefix: str = "f",
                 attachments: list[dict] | None = None, heading_level: int = 2):
        self.schema = schema
        self.state = state or initial_state(schema)
        self.prefix = prefix
        self.attachments = attachments or []
        self.heading_level = heading_level
        self.registry: dict[str, _Entry] = {}
        self._html: SafeString | None = None

    # ---- public
    def render(self) -> SafeString:
        if self._html is None:
            parts = self._object_children(self.schema, "", True, [], depth=0)
            if self.attachments:
                parts.append(self._attachments())
            self._html = mark_safe("".join(parts))
        return self._html

    def summary(self) -> list[dict]:
        """[{href, text}] for the error summary, in form order."""
        self.render()
        order = {ptr: i for i, ptr in enumerate(self.registry)}
        items = []
        for ptr, messages in self.state.errors.items():
            target = self._nearest(ptr)
            entry = self.registry.get(target) if target is not None else None
            for m in messages:
                if entry is None:
                    items.append((len(order) + 1, {"href": f"#{self.prefix}", "text": m}))
                else:
                    text = self._message(ptr, m)
                    items.append((order[target], {"href": f"#{entry.id}", "text": f"{entry.label}: {text}"}))
        items.sort(key=lambda x: x[0])
        return [i for _, i in items]

    # ---- helpers
    def _nearest(self, ptr: str) -> str | None:
        p = ptr
        while True:
            if p in self.registry:
                return p
            if not p:
                return None
            p = p.rsplit("/", 1)[0]

    def _message(self, ptr: str, message: str) -> str:
        entry = self.registry.get(ptr)
        if entry is None:
            return message
        return _friendly(message, entry.schema, entry.key)

    def _errors_at(self, ptr: str) -> list[str]:
        out = [self._message(ptr, m) for m in self.state.errors.get(ptr, [])]
        # errors below a leaf (e.g. an unknown sub-key) are shown at the leaf
        return out

    def _register(self, ptr: str, fid: str, label: str, s: dict, key: str) -> None:
        self.registry[ptr] = _Entry(fid, label, s, key)

    def _hint_error(self, fid: str, s: dict, errors: list[str], extra_hint: str = "") -> tuple[str, list[str]]:
        html, described = [], []
        desc = (s.get("description") or "").strip()
        if desc and extra_hint and desc[-1] not in ".!?)":
            desc += "."
        hint = " ".join(x for x in [desc, extra_hint] if x)
        if hint:
            html.append(f'<p class="hint" id="{fid}-hint">{escape(hint)}</p>')
            described.append(f"{fid}-hint")
        if errors:
            msgs = "<br>".join(escape(m) for m in errors)
            label = escape(_("Fehler:"))
            html.append(f'<p class="error-message" id="{fid}-error">'
                        f'<span class="visually-hidden">{label}</span> {msgs}</p>')
            described.append(f"{fid}-error")
        return "".join(html), described

    @staticmethod
    def _req(required: bool) -> str:
        return ' <span class="required">' + escape(_("(Pflichtfeld)")) + "</span>" if required else ""

    def _label_path(self, context: list[str], title: str) -> str:
        return " – ".join([*context[-1:], title])

    def _object_children(self, s: dict, ptr: str, required: bool, context: list[str], depth: int) -> list[str]:
        req = set(s.get("required") or [])
        parts = []
        for k, sub in _props(s).items():
            parts.append(self._node(sub, f"{ptr}/{_esc_part(k)}", k, required and k in req, context, depth))
        return parts

    def _node(self, s: dict, ptr: str, key: str, required: bool, context: list[str], depth: int) -> str:
        t = _type(s)
        if t == "object":
            return self._fieldset(s, ptr, key, required, context, depth)
        if t == "array":
            items = s.get("items") or {}
            if "enum" in items:
                return self._checkbox_group(s, ptr, key, required, context)
            return self._repeat(s, ptr, key, required, context, depth)
        w = _widget(s, key)
        if w == "radio":
            return self._radios(s, ptr, key, required, context)
        if w == "checkbox":
            return self._checkbox(s, ptr, key, context)
        return self._input(s, ptr, key, required, context, w)

    def _fieldset(self, s, ptr, key, required, context, depth) -> str:
        fid = field_id(self.prefix, ptr)
        title = s.get("title") or key
        self._register(ptr, fid, self._label_path(context, title), s, key)
        errors = self._errors_at(ptr)
        hint, described = self._hint_error(fid, s, errors)
        level = min(self.heading_level + depth, 6)
        children = self._object_children(s, ptr, required, [*context, title], depth + 1)
        cls = "fieldset fieldset--group" + (" fieldset--error" if errors else "")
        return (f'<fieldset class="{cls}" id="{fid}"{_attrs(aria_describedby=" ".join(described) or None)}>'
                f'<legend class="legend legend--h{level}"><span role="heading" aria-level="{level}">'
                f"{escape(title)}</span></legend>{hint}{''.join(children)}</fieldset>")

    def _repeat(self, s, ptr, key, required, context, depth) -> str:
        fid = field_id(self.prefix, ptr)
        title = s.get("title") or key
        items = s.get("items") or {}
        item_title = items.get("title") or _("Eintrag")
        min_rows = max(int(s.get("minItems") or 0), 1)
        max_rows = min(int(s.get("maxItems") or MAX_ROWS), MAX_ROWS)
        n = max(self.state.rows.get(ptr, 0), min_rows)
        self._register(ptr, fid, self._label_path(context, title), s, key)
        errors = self._errors_at(ptr)
        limits = []
        if s.get("minItems"):
            limits.append(_("mindestens %(n)s") % {"n": s["minItems"]})
        if s.get("maxItems"):
            limits.append(_("höchstens %(n)s") % {"n": s["maxItems"]})
        extra = (_("Anzahl der Einträge: %(limits)s.") % {"limits": _(" und ").join(limits)}
                 if limits and not s.get("description") else "")
        hint, described = self._hint_error(fid, s, errors, extra)
        level = min(self.heading_level + depth, 6)
        rows = []
        for i in range(n):
            rptr = f"{ptr}/{i}"
            rid = field_id(self.prefix, rptr)
            label = f"{item_title} {i + 1}"
            row_ctx = [*context, label]
            self._register(rptr, rid, self._label_path(context, label), items, "")
            if _type(items) == "object":
                body = "".join(self._object_children(items, rptr, required and i < min_rows, row_ctx, depth + 1))
            else:
                body = self._node(items, rptr, "", required and i < min_rows, row_ctx, depth + 1)
            remove = ""
            remove_text = escape(_("%(row)s entfernen") % {"row": label})
            if n > min_rows:
                remove = (f'<button type="submit" class="button button--secondary button--small" formnovalidate '
                          f'name="_remove:{escape(rptr)}" value="1">{remove_text}</button>')
            row_errors = self._errors_at(rptr)
            error_label = escape(_("Fehler:"))
            row_err_html = "".join(f'<p class="error-message"><span class="visually-hidden">{error_label}'
                                   f"</span> {escape(m)}</p>" for m in row_errors)
            rows.append(f'<fieldset class="fieldset repeat-item" id="{rid}">'
                        f'<legend class="legend legend--h{min(level + 1, 6)}">{escape(label)}</legend>'
                        f"{row_err_html}{body}{remove}</fieldset>")
        add = ""
        add_text = escape(_("Weiteren Eintrag hinzufügen"))
        if n < max_rows:
            add = (f'<button type="submit" class="button button--secondary" formnovalidate '
                   f'name="_add:{escape(ptr)}" value="1">{add_text}</button>')
        cls = "fieldset fieldset--group repeat" + (" fieldset--error" if errors else "")
        return (f'<fieldset class="{cls}" id="{fid}"{_attrs(aria_describedby=" ".join(described) or None)}>'
                f'<legend class="legend legend--h{level}"><span role="heading" aria-level="{level}">'
                f"{escape(title)}</span>{self._req(required)}</legend>{hint}"
                f'<input type="hidden" name="_rows:{escape(ptr)}" value="{n}">'
                f"{''.join(rows)}{add}</fieldset>")

    def _autofocus(self, ptr: str) -> bool:
        f = self.state.focus
        return bool(f) and (ptr == f or ptr.startswith(f + "/")) and not getattr(self, "_focused", False)

    def _take_focus(self, ptr: str) -> bool:
        if self._autofocus(ptr):
            self._focused = True
            return True
        return False

    def _input(self, s, ptr, key, required, context, widget) -> str:
        fid = field_id(self.prefix, ptr)
        title = s.get("title") or key
        self._register(ptr, fid, self._label_path(context, title), s, key)
        errors = self._errors_at(ptr)
        value = self.state.values.get(ptr, "")
        if isinstance(value, list):
            value = ""
        extra = ""
        if widget == "date":
            own_format = s.get("description") and "TT.MM" in s["description"]
            extra = "" if own_format else _("Format: TT.MM.JJJJ.")
        hint, described = self._hint_error(fid, s, errors, extra)
        common = dict(
            id=fid, name=ptr, required=required, aria_required="true" if required else None,
            aria_invalid="true" if errors else None, aria_describedby=" ".join(described) or None,
            autocomplete=s.get("x-autocomplete"), autofocus=self._take_focus(ptr),
        )
        cls = "input" + (" input--error" if errors else "")
        if widget == "textarea":
            control = f'<textarea class="{cls} textarea" rows="5"{_attrs(**common)}>{escape(value)}</textarea>'
        elif widget == "select":
            opts = ['<option value="">' + escape(_("Bitte auswählen")) + "</option>"]
            for v, label in _enum_labels(s):
                sel = " selected" if v == value else ""
                opts.append(f'<option value="{escape(v)}"{sel}>{escape(label)}</option>')
            control = f'<select class="{cls} select"{_attrs(**common)}>{"".join(opts)}</select>'
        else:
            kind = {"date": "date", "email": "email"}.get(widget, "text")
            extra_attrs = {}
            if widget == "number":
                extra_attrs["inputmode"] = "numeric" if _type(s) == "integer" else "decimal"
                cls += " input--short"
            if widget == "email" or s.get("format") in ("iban", "bic", "email"):
                extra_attrs["spellcheck"] = "false"
            if widget == "date":
                cls += " input--date"
            control = f'<input class="{cls}" type="{kind}"{_attrs(**common, **extra_attrs)} value="{escape(value)}">'
        wrap = "field" + (" field--error" if errors else "")
        return (f'<div class="{wrap}"><label class="label" for="{fid}">{escape(title)}{self._req(required)}'
                f"</label>{hint}{control}</div>")

    def _radios(self, s, ptr, key, required, context) -> str:
        fid = field_id(self.prefix, ptr)
        title = s.get("title") or key
        self._register(ptr, fid, self._label_path(context, title), s, key)
        errors = self._errors_at(ptr)
        hint, described = self._hint_error(fid, s, errors)
        value = self.state.values.get(ptr, "")
        options = _enum_labels(s) if "enum" in s else [("true", _("Ja")), ("false", _("Nein"))]
        radios = []
        for i, (v, label) in enumerate(options):
            rid = fid if i == 0 else f"{fid}-{i + 1}"
            attrs = _attrs(id=rid, name=ptr, value=v, checked=v == value, required=required,
                           autofocus=i == 0 and self._take_focus(ptr))
            radios.append(f'<div class="choice"><input class="choice__input" type="radio"{attrs}>'
                          f'<label class="choice__label" for="{rid}">{escape(label)}</label></div>')
        inline = " choices--inline" if len(options) <= 2 and all(len(lbl) < 20 for _, lbl in options) else ""
        wrap = "field" + (" field--error" if errors else "")
        return (f'<div class="{wrap}"><fieldset class="fieldset"'
                f'{_attrs(aria_describedby=" ".join(described) or None)}>'
                f'<legend class="legend">{escape(title)}{self._req(required)}</legend>{hint}'
                f'<div class="choices{inline}">{"".join(radios)}</div></fieldset></div>')

    def _checkbox(self, s, ptr, key, context) -> str:
        fid = field_id(self.prefix, ptr)
        title = s.get("title") or key
        self._register(ptr, fid, self._label_path(context, title), s, key)
        errors = self._errors_at(ptr)
        hint, described = self._hint_error(fid, s, errors)
        checked = bool(self.state.values.get(ptr))
        attrs = _attrs(id=fid, name=ptr, value="on", checked=checked, aria_invalid="true" if errors else None,
                       aria_describedby=" ".join(described) or None, autofocus=self._take_focus(ptr))
        wrap = "field" + (" field--error" if errors else "")
        return (f'<div class="{wrap}"><div class="choice"><input class="choice__input" type="checkbox"{attrs}>'
                f'<label class="choice__label" for="{fid}">{escape(title)}</label></div>{hint}</div>')

    def _checkbox_group(self, s, ptr, key, required, context) -> str:
        fid = field_id(self.prefix, ptr)
        title = s.get("title") or key
        self._register(ptr, fid, self._label_path(context, title), s, key)
        errors = self._errors_at(ptr)
        hint, described = self._hint_error(fid, s, errors)
        chosen = self.state.values.get(ptr) or []
        boxes = []
        for i, (v, label) in enumerate(_enum_labels(s.get("items") or {})):
            cid = fid if i == 0 else f"{fid}-{i + 1}"
            boxes.append(f'<div class="choice"><input class="choice__input" type="checkbox"'
                         f'{_attrs(id=cid, name=ptr, value=v, checked=v in chosen)}>'
                         f'<label class="choice__label" for="{cid}">{escape(label)}</label></div>')
        wrap = "field" + (" field--error" if errors else "")
        return (f'<div class="{wrap}"><fieldset class="fieldset"'
                f'{_attrs(aria_describedby=" ".join(described) or None)}>'
                f'<legend class="legend">{escape(title)}{self._req(required)}</legend>{hint}'
                f'<div class="choices">{"".join(boxes)}</div></fieldset></div>')

    def _attachments(self) -> str:
        parts = []
        for a in self.attachments:
            ptr = f"/attachments/{_esc_part(a['key'])}"
            fid = field_id(self.prefix, ptr)
            spec = {"title": a.get("title") or a["key"]}
            self._register(ptr, fid, spec["title"], spec, a["key"])
            errors = self._errors_at(ptr)
            types = a.get("content_types") or ["application/pdf", "image/jpeg", "image/png"]
            names = ", ".join(CONTENT_TYPE_NAMES.get(t, t) for t in types)
            size = a.get("max_size_mb", 10)
            hint_text = _("Erlaubte Dateitypen: %(types)s; höchstens %(size)s MB.") % {
                "types": names, "size": format_number(size)}
            hint, described = self._hint_error(fid, {"description": hint_text}, errors)
            accept = ",".join([*(CONTENT_TYPE_EXT.get(t, "") for t in types), *types]).strip(",")
            required = bool(a.get("required"))
            attrs = _attrs(id=fid, name=ptr, accept=accept, required=required,
                           aria_required="true" if required else None,
                           aria_invalid="true" if errors else None, aria_describedby=" ".join(described))
            wrap = "field" + (" field--error" if errors else "")
            parts.append(f'<div class="{wrap}"><label class="label" for="{fid}">{escape(spec["title"])}'
                         f'{self._req(required)}</label>{hint}<input class="file" type="file"{attrs}></div>')
        level = self.heading_level
        title = escape(_("Anlagen"))
        hint = escape(_("Bitte laden Sie die Nachweise hier hoch, soweit sie für Sie zutreffen."))
        return ('<fieldset class="fieldset fieldset--group" id="' + f'{self.prefix}-attachments">'
                f'<legend class="legend legend--h{level}"><span role="heading" aria-level="{level}">'
                f'{title}</span></legend><p class="hint">{hint}</p>'
                + "".join(parts) + "</fieldset>")


CONTENT_TYPE_NAMES = {"application/pdf": "PDF", "image/jpeg": "JPEG", "image/png": "PNG"}
CONTENT_TYPE_EXT = {"application/pdf": ".pdf", "image/jpeg": ".jpg,.jpeg", "image/png": ".png"}


# --------------------------------------------------------------------------- read-only display

def format_number(v) -> str:
    """A number as shown and pre-filled: decimal comma in German, point in English (parsing takes both)."""
    if isinstance(v, bool):
        return _("Ja") if v else _("Nein")
    if isinstance(v, float):
        text = f"{v:.10f}".rstrip("0").rstrip(".")
    else:
        text = str(v)
    return text if (get_language() or "").startswith("en") else text.replace(".", ",")


def format_value(s: dict, v) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return _("Ja") if v else _("Nein")
    if "enum" in s:
        for raw, label in _enum_labels(s):
            if raw == _str_value(v):
                return label
    if isinstance(v, int | float):
        return format_number(v)
    if s.get("format") == "date" and isinstance(v, str):
        try:
            return dt.date.fromisoformat(v).strftime("%d.%m.%Y")
        except ValueError:
            return v
    if isinstance(v, list):
        items = s.get("items") or {}
        return ", ".join(format_value(items, x) for x in v)
    return str(v)


def render_data(schema: dict, data, heading_level: int = 3) -> SafeString:
    """Application or task data as nested description lists, labelled with the schema titles."""

    def obj(s: dict, value: dict, level: int) -> str:
        props = _props(s)
        keys = list(props) + [k for k in value if k not in props]
        rows = []
        for k in keys:
            if k not in value:
                continue
            sub = props.get(k) or {}
            title = sub.get("title") or k
            v = value[k]
            t = _type(sub) if sub else ("object" if isinstance(v, dict) else "array" if isinstance(v, list) else "")
            if t == "object" and isinstance(v, dict):
                rows.append(f'<div class="data-group"><p class="data-group__title" role="heading" '
                            f'aria-level="{min(level, 6)}">{escape(title)}</p>{obj(sub, v, level + 1)}</div>')
            elif t == "array" and isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                items = sub.get("items") or {}
                item_title = items.get("title") or _("Eintrag")
                inner = "".join(
                    f'<div class="data-group data-group--item"><p class="data-group__title" role="heading" '
                    f'aria-level="{min(level + 1, 6)}">{escape(item_title)} {i + 1}</p>{obj(items, x, level + 2)}</div>'
                    for i, x in enumerate(v)
                )
                rows.append(f'<div class="data-group"><p class="data-group__title" role="heading" '
                            f'aria-level="{min(level, 6)}">{escape(title)}</p>{inner}</div>')
            else:
                rows.append(f'<div class="data-row"><dt>{escape(title)}</dt><dd>{escape(format_value(sub, v))}</dd></div>')
        # description list rows and groups alternate: wrap consecutive rows in <dl>
        out, buf = [], []
        for r in rows:
            if r.startswith('<div class="data-row">'):
                buf.append(r)
            else:
                if buf:
                    out.append('<dl class="data-list">' + "".join(buf) + "</dl>")
                    buf = []
                out.append(r)
        if buf:
            out.append('<dl class="data-list">' + "".join(buf) + "</dl>")
        return "".join(out)

    if not isinstance(data, dict) or not data:
        return mark_safe('<p class="muted">' + escape(_("Keine Angaben.")) + "</p>")
    return mark_safe(obj(schema or {}, data, heading_level))
