"""`FormRenderer`: a JSON Schema and a `FormState` → accessible HTML (label, hint and error tied to the
control, radio groups and objects as fieldsets, repeatable groups with add/remove buttons, file
inputs for attachments) and the error summary."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .common import MAX_ROWS, _attrs, _enum_labels, _esc_part, _props, _type, _widget, field_id
from .display import format_number
from .messages import _friendly
from .state import FormState, initial_state


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
