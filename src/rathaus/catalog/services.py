"""Service packages: validate a folder, publish it as a new version, look services up."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.db import connection, transaction
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from rathaus.core import schema as schemas
from rathaus.events.services import record_change
from rathaus.tenants.models import OrgUnit, Role, Tenant
from rathaus.workflow import engine

from .fees import FeeError, compile_expression, compute_fees
from .models import Service, ServiceVersion

DEMO_SERVICES_DIR = Path(__file__).resolve().parent / "demo_services"
REQUIRED_KEYS = ("key", "version", "name", "org_unit", "processing_days", "retention_years", "reference_prefix",
                 "process_id")
SCHEMA_2020 = "https://json-schema.org/draft/2020-12/schema"


@dataclass
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self):
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class PackageError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Package:
    path: Path
    definition: dict
    form_schema: dict
    task_schemas: dict
    bpmn_xml: str
    notice_template: str
    parsed: engine.ParsedProcess | None
    checksum: str


def _line_of(text: str, path: list) -> int | None:
    """Best-effort line of a JSON pointer path in a JSON/YAML text (the last named key)."""
    names = [p for p in path if isinstance(p, str)]
    if not names:
        return 1
    lines = text.splitlines()
    start = 0
    for name in names:
        pat = re.compile(r'["\']?' + re.escape(name) + r'["\']?\s*:')
        for i in range(start, len(lines)):
            if pat.search(lines[i]):
                start = i
                break
    return start + 1


def _load_json(path: Path, rel: str, problems: list[Problem]):
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem(rel, None, "Datei fehlt"))
        return None, ""
    except UnicodeDecodeError:
        problems.append(Problem(rel, None, "Datei ist nicht UTF-8-kodiert"))
        return None, ""
    try:
        return json.loads(text), text
    except json.JSONDecodeError as e:
        problems.append(Problem(rel, e.lineno, f"JSON-Fehler: {e.msg}"))
        return None, text


def _check_schema(schema, text: str, rel: str, problems: list[Problem], *, decision: bool = False) -> None:
    if not isinstance(schema, dict):
        problems.append(Problem(rel, 1, "Das Schema muss ein JSON-Objekt sein"))
        return
    if schema.get("$schema") != SCHEMA_2020:
        problems.append(Problem(rel, _line_of(text, ["$schema"]), f'"$schema" muss "{SCHEMA_2020}" sein'))
    if schema.get("type") != "object":
        problems.append(Problem(rel, _line_of(text, ["type"]), 'Das Formular-Schema muss "type": "object" haben'))
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        problems.append(Problem(rel, _line_of(text, list(e.absolute_path)), f"Ungültiges JSON Schema: {e.message}"))
        return
    examples = schema.get("examples")
    if not isinstance(examples, list) or not examples:
        problems.append(Problem(rel, _line_of(text, ["examples"]) if "examples" in text else 1,
                                'Es fehlt ein vollständiges gültiges Beispiel unter "examples"'))
    else:
        for i, ex in enumerate(examples):
            for err in schemas.validate(schema, ex):
                problems.append(Problem(rel, _line_of(text, ["examples"]),
                                        f"Beispiel {i + 1} ist ungültig bei {err['pointer'] or '/'}: {err['message']}"))
    if decision:
        props = schema.get("properties") or {}
        dec = props.get("decision")
        if not dec or set(dec.get("enum") or []) != {"approve", "reject"}:
            problems.append(Problem(rel, _line_of(text, ["decision"]),
                                    'Entscheidungs-Aufgabe: "decision" mit enum ["approve", "reject"] fehlt'))
        elif "reason" not in props:
            problems.append(Problem(rel, _line_of(text, ["decision"]), 'Entscheidungs-Aufgabe: "reason" fehlt'))


# Checks of a package's template files by the app that renders them (notices registers "notice.typ" from its
# AppConfig.ready): `check(template_text, form_examples) -> [German problem messages]`.
template_checks: dict[str, list] = {}


def register_template_check(filename: str, check) -> None:
    checks = template_checks.setdefault(filename, [])
    if check not in checks:
        checks.append(check)


def read_package(path: str | Path, *, tenant: Tenant | None = None) -> Package:
    """Read and check a service folder; raise PackageError listing every problem found."""
    root = Path(path)
    problems: list[Problem] = []
    if not root.is_dir():
        raise PackageError([Problem(str(root), None, "Ordner nicht gefunden")])
    yaml_path = root / "service.yaml"
    definition: dict = {}
    yaml_text = ""
    try:
        yaml_text = yaml_path.read_text(encoding="utf-8")
        definition = yaml.safe_load(yaml_text) or {}
        if not isinstance(definition, dict):
            problems.append(Problem("service.yaml", 1, "service.yaml muss eine Zuordnung (mapping) sein"))
            definition = {}
    except FileNotFoundError:
        problems.append(Problem("service.yaml", None, "Datei fehlt"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        problems.append(Problem("service.yaml", mark.line + 1 if mark else None, f"YAML-Fehler: {e}"))

    def yline(key):
        return _line_of(yaml_text, [key])

    for key in REQUIRED_KEYS:
        if key not in definition:
            problems.append(Problem("service.yaml", None, f'Pflichtangabe "{key}" fehlt'))
    key = str(definition.get("key", ""))
    if key and not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,59}", key):
        problems.append(Problem("service.yaml", yline("key"), "key: nur Kleinbuchstaben, Ziffern und Bindestriche"))
    if key and key != root.name:
        problems.append(Problem("service.yaml", yline("key"), f'key "{key}" passt nicht zum Ordnernamen "{root.name}"'))
    prefix = str(definition.get("reference_prefix", ""))
    if prefix and not re.fullmatch(r"[A-Z]{2,6}", prefix):
        problems.append(Problem("service.yaml", yline("reference_prefix"), "reference_prefix: 2-6 Großbuchstaben"))
    for intkey in ("processing_days", "retention_years"):
        v = definition.get(intkey)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
            problems.append(Problem("service.yaml", yline(intkey), f"{intkey}: positive ganze Zahl erwartet"))
    leika = definition.get("leika")
    if leika is not None and not re.fullmatch(r"\d{14}", str(leika)):
        problems.append(Problem("service.yaml", yline("leika"), "leika: LeiKa-Schlüssel hat 14 Ziffern"))
    if tenant is not None and definition.get("org_unit"):
        if not OrgUnit.objects.filter(tenant=tenant, slug=definition["org_unit"]).exists():
            problems.append(Problem("service.yaml", yline("org_unit"),
                                    f'Organisationseinheit "{definition["org_unit"]}" gibt es bei {tenant.name} nicht'))
    for i, att in enumerate(definition.get("attachments") or []):
        if not isinstance(att, dict) or not att.get("key") or not att.get("title"):
            problems.append(Problem("service.yaml", yline("attachments"), f"attachments[{i}]: key und title nötig"))

    form_schema, form_text = _load_json(root / "form.schema.json", "form.schema.json", problems)
    if form_schema is not None:
        _check_schema(form_schema, form_text, "form.schema.json", problems)

    # fees
    fees = definition.get("fees") or {}
    for i, item in enumerate(fees.get("items") or []):
        for field in ("amount", "when"):
            if field in item and item[field] not in (None, ""):
                try:
                    compile_expression(str(item[field]))
                except FeeError as e:
                    problems.append(Problem("service.yaml", yline("fees"), f"fees.items[{i}].{field}: {e}"))
        if "id" not in item or "amount" not in item:
            problems.append(Problem("service.yaml", yline("fees"), f"fees.items[{i}]: id und amount nötig"))
    if form_schema and fees and not [p for p in problems if "fees" in p.message]:
        for j, ex in enumerate(form_schema.get("examples") or []):
            try:
                compute_fees(fees, ex)
            except FeeError as e:
                problems.append(Problem("service.yaml", yline("fees"), f"Beispiel {j + 1}: {e}"))

    # process
    bpmn_xml = ""
    parsed = None
    task_schemas: dict = {}
    try:
        bpmn_xml = (root / "process.bpmn").read_text(encoding="utf-8")
    except FileNotFoundError:
        problems.append(Problem("process.bpmn", None, "Datei fehlt"))
    if bpmn_xml and definition.get("process_id"):
        try:
            parsed = engine.parse_process(bpmn_xml, str(definition["process_id"]), "process.bpmn")
        except engine.WorkflowError as e:
            msg = str(e)
            m = re.match(r"process\.bpmn:(\d*):? ?(.*)", msg, re.S)
            problems.append(Problem("process.bpmn", int(m.group(1)) if m and m.group(1) else None,
                                    m.group(2) if m else msg))
    if parsed:
        for ut in parsed.user_tasks:
            props = ut["properties"]
            line = _line_of(bpmn_xml, [])
            for i, ln in enumerate(bpmn_xml.splitlines()):
                if f'id="{ut["name"]}"' in ln:
                    line = i + 1
                    break
            role = props.get("role")
            if role not in Role.values:
                problems.append(Problem("process.bpmn", line,
                                        f'Aufgabe "{ut["name"]}": property "role" fehlt oder ist unbekannt ({role!r})'))
            form_rel = props.get("form")
            if not form_rel:
                problems.append(Problem("process.bpmn", line, f'Aufgabe "{ut["name"]}": property "form" fehlt'))
            else:
                if ".." in Path(form_rel).parts or Path(form_rel).is_absolute():
                    problems.append(Problem("process.bpmn", line, f"form {form_rel!r}: Pfad außerhalb des Pakets"))
                    continue
                ts, ts_text = _load_json(root / form_rel, form_rel, problems)
                if ts is not None:
                    is_decision = "decision" in (ts.get("properties") or {})
                    _check_schema(ts, ts_text, form_rel, problems, decision=is_decision)
                    task_schemas[form_rel] = ts
            for intprop in ("due_days",):
                if intprop in props and not str(props[intprop]).isdigit():
                    problems.append(Problem("process.bpmn", line, f'{intprop} muss eine ganze Zahl sein'))
            if tenant is not None and props.get("org_unit") and not props["org_unit"].startswith("/"):
                if not OrgUnit.objects.filter(tenant=tenant, slug=props["org_unit"]).exists():
                    problems.append(Problem("process.bpmn", line,
                                            f'Organisationseinheit "{props["org_unit"]}" gibt es nicht'))

    notice_template = ""
    notice_path = root / "notice.typ"
    if notice_path.exists():
        notice_template = notice_path.read_text(encoding="utf-8")
        if form_schema and not problems:  # compile once with the form's examples: errors show at publication
            for check in template_checks.get("notice.typ", ()):
                for msg in check(notice_template, form_schema.get("examples") or []):
                    problems.append(Problem("notice.typ", None, msg))

    if problems:
        raise PackageError(problems)

    h = hashlib.sha256()
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return Package(root, definition, form_schema, task_schemas, bpmn_xml, notice_template, parsed, h.hexdigest())


def record_property_order(schema):
    """Annotate every object schema with `x-order` (the author's key order), recursively.

    JSON columns on PostgreSQL (jsonb) reorder keys; forms must keep the order they were written in.
    """
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            schema["x-order"] = list(props)
        for v in schema.values():
            record_property_order(v)
    elif isinstance(schema, list):
        for v in schema:
            record_property_order(v)
    return schema


def validate_package(path) -> list[Problem]:
    try:
        read_package(path)
    except PackageError as e:
        return e.problems
    return []


@transaction.atomic
def publish_package(path, *, tenant: Tenant, actor: str = "system") -> tuple[ServiceVersion, bool]:
    """Publish a package as a new version (or return the existing identical one).

    Returns (version, created). A changed package with an already used version number is refused:
    running cases keep the version they started with, so published versions never change.
    """
    pkg = read_package(path, tenant=tenant)
    d = pkg.definition
    service, _ = Service.objects.select_for_update().get_or_create(tenant=tenant, key=d["key"])
    existing = ServiceVersion.objects.filter(service=service, version=str(d["version"])).first()
    if existing:
        if existing.checksum == pkg.checksum:
            if service.current_version_id != existing.id:
                service.current_version = existing
                service.save(update_fields=["current_version"])
            return existing, False
        raise PackageError([Problem("service.yaml", None,
                                    f'Version {d["version"]} ist bereits mit anderem Inhalt veröffentlicht; '
                                    "bitte die Versionsnummer erhöhen")])
    org_unit = OrgUnit.objects.get(tenant=tenant, slug=d["org_unit"])
    sv = ServiceVersion.objects.create(
        service=service,
        version=str(d["version"]),
        name=d["name"],
        name_en=d.get("name_en", ""),
        description=d.get("description", ""),
        leika=str(d.get("leika", "")),
        org_unit=org_unit,
        processing_days=d["processing_days"],
        retention_years=d["retention_years"],
        reference_prefix=d["reference_prefix"],
        definition=d,
        form_schema=record_property_order(pkg.form_schema),
        task_schemas=record_property_order(pkg.task_schemas),
        process_id=d["process_id"],
        bpmn_xml=pkg.bpmn_xml,
        spec_state=engine.spec_to_state(pkg.parsed.spec, pkg.parsed.subprocess_specs),
        notice_template=pkg.notice_template,
        checksum=pkg.checksum,
        published_by=actor,
    )
    service.current_version = sv
    service.active = True
    service.save(update_fields=["current_version", "active"])
    record_change(
        tenant=tenant, actor=actor, action="service.published", object_type="service", object_id=service.key,
        data={"version": sv.version, "checksum": sv.checksum},
        event_type="service.published", event_payload={"service": service.key, "version": sv.version},
    )
    return sv, True


def demo_package_dirs() -> list[Path]:
    return sorted(p for p in DEMO_SERVICES_DIR.iterdir() if (p / "service.yaml").exists())


def package_is_public(path: Path) -> bool:
    """`is_public` for a package folder (before publication), from its service.yaml."""
    try:
        definition = yaml.safe_load((Path(path) / "service.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False
    return definition.get("audience", "public") != "internal"


def is_public(sv) -> bool:
    """Public services are offered to applicants; `audience: internal` ones (e.g. the approval of an
    inbound invoice) are started by rathaus itself and never appear in the intake."""
    return (sv.definition or {}).get("audience", "public") != "internal"


def active_services(tenant: Tenant):
    return (
        Service.objects.filter(tenant=tenant, active=True, current_version__isnull=False)
        .select_related("current_version")
        .order_by("current_version__name")
    )


_version_cache: dict[tuple, ServiceVersion] = {}
_CURRENT_VERSION_SQL = (
    f"SELECT s.id, s.current_version_id, v.checksum FROM {Service._meta.db_table} s "
    f"JOIN {ServiceVersion._meta.db_table} v ON v.id = s.current_version_id "
    "WHERE s.tenant_id = %s AND s.key = %s AND s.active"
)
_version_lock = threading.Lock()


# Which version of a service is current is remembered per process for CURRENT_VERSION_TTL seconds (the
# intake's hot path asks on every submission); saving a service or version in this process forgets it at
# once, other processes see a newly published version or a deactivated service within the TTL.
CURRENT_VERSION_TTL = 2.0
_current_cache: dict[tuple, tuple] = {}


def forget_current_versions(**_kwargs) -> None:
    _current_cache.clear()


def get_active_service(tenant: Tenant, key: str) -> Service | None:
    """The service with its current version.

    The current version's id comes from a light query (remembered for a moment, see above); the heavy
    version row (schemas, process spec) is cached per process by (id, checksum): published versions
    never change.
    """
    now = time.monotonic()
    hit = _current_cache.get((tenant.pk, key))
    if hit is not None and now - hit[0] < CURRENT_VERSION_TTL:
        row = hit[1]
    else:
        with connection.cursor() as cur:  # hot path of every submission: plain SQL, no ORM query compilation
            cur.execute(_CURRENT_VERSION_SQL, [tenant.pk, key])
            row = cur.fetchone()
        if len(_current_cache) > 2000:
            _current_cache.clear()
        _current_cache[(tenant.pk, key)] = (now, row)
    if row is None:
        return None
    service_id, version_id, checksum = row
    sv = _version_cache.get((version_id, checksum))
    if sv is None:
        sv = ServiceVersion.objects.select_related("service", "org_unit").get(pk=version_id)
        with _version_lock:
            if len(_version_cache) > 500:
                _version_cache.clear()
            _version_cache[(version_id, checksum)] = sv
    service = Service(id=service_id, tenant=tenant, key=key, current_version_id=version_id, active=True)
    service.current_version = sv
    return service
