"""Service packages: `rathaus services validate|load`.

Every demo package validates; broken copies of the `testdienst` fixture are reported with file and line;
publishing is idempotent per version, a changed package needs a new version, and running cases keep the
version they started with.
"""

import io
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from rathaus.catalog.services import DEMO_SERVICES_DIR

from .conftest import TESTDIENST, TESTDIENST_EXAMPLE

DEMO_DIRS = sorted(p for p in DEMO_SERVICES_DIR.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def run(*args) -> tuple[str, str, str | None]:
    """(stdout, stderr, CommandError message or None) of `rathaus services ...`."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("services", *[str(a) for a in args], stdout=out, stderr=err)
        failure = None
    except CommandError as e:
        failure = str(e)
    return out.getvalue(), err.getvalue(), failure


@pytest.fixture
def pkg(tmp_path) -> Path:
    """A fresh copy of the testdienst package (the folder name must equal the key)."""
    dest = tmp_path / "pakete" / "testdienst"
    shutil.copytree(TESTDIENST, dest)
    return dest


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in {path}")


def problems(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if ln.strip()]


# --------------------------------------------------------------------------- good packages

@pytest.mark.parametrize("folder", DEMO_DIRS, ids=[p.name for p in DEMO_DIRS])
def test_demo_package_validates(folder):
    out, err, failure = run("validate", folder)
    assert failure is None and err == "", err
    assert "in Ordnung" in out


def test_demo_folder_validates_as_a_whole():
    out, err, failure = run("validate", DEMO_SERVICES_DIR)
    assert failure is None, err
    assert out.count("in Ordnung") == len([d for d in DEMO_DIRS if (d / "service.yaml").exists()])


def test_fixture_package_validates(pkg):
    out, err, failure = run("validate", pkg)
    assert failure is None and err == "", err


# --------------------------------------------------------------------------- broken packages

def assert_reported(pkg: Path, file: str, line: int | None, *fragments: str):
    out, err, failure = run("validate", pkg)
    assert failure is not None, f"not refused:\n{out}"
    lines = problems(err)
    prefix = f"{pkg}/{file}:{line}: " if line else f"{pkg}/{file}"
    hits = [ln for ln in lines if ln.startswith(prefix) and all(f in ln for f in fragments)]
    assert hits, f"expected {prefix}… {fragments} in:\n{err}"
    return lines


def test_invalid_json_is_reported_with_its_line(pkg):
    form = pkg / "form.schema.json"
    edit(form, '"title": "Nachname",', '"title": "Nachname"')  # missing comma, in the middle of the line
    assert_reported(pkg, "form.schema.json", line_of(form, '"title": "Nachname"'), "JSON-Fehler")


def test_invalid_task_json_is_reported_with_its_line(pkg):
    task = pkg / "tasks" / "pruefung.schema.json"
    edit(task, '"required": ["decision"],', '"required": ["decision"]],')
    assert_reported(pkg, "tasks/pruefung.schema.json", line_of(task, '"required"'), "JSON-Fehler")


def test_missing_examples_are_reported(pkg):
    form = pkg / "form.schema.json"
    text = form.read_text(encoding="utf-8")
    text = re.sub(r',\s*"examples": \[.*?\]\s*(?=\}\s*$)', "\n", text, flags=re.S)
    assert '"examples"' not in text
    form.write_text(text, encoding="utf-8")
    assert_reported(pkg, "form.schema.json", 1, "Beispiel")


def test_invalid_example_is_reported_with_pointer_and_line(pkg):
    form = pkg / "form.schema.json"
    edit(form, '"email": "erika@example.org"', '"email": "keine-adresse"')
    assert_reported(pkg, "form.schema.json", line_of(form, '"examples"'), "Beispiel 1", "/email", "E-Mail")


def test_invalid_task_example_is_reported(pkg):
    task = pkg / "tasks" / "freigabe.schema.json"
    edit(task, '"examples": [{"decision": "approve"}]', '"examples": [{"decision": "reject"}]')
    assert_reported(pkg, "tasks/freigabe.schema.json", line_of(task, '"examples"'), "Beispiel 1", "/reason")


def test_user_task_without_role_is_reported_at_the_task(pkg):
    bpmn = pkg / "process.bpmn"
    edit(bpmn, '<spiffworkflow:property name="role" value="clerk" />', "")
    assert_reported(pkg, "process.bpmn", line_of(bpmn, 'id="pruefung"'), "pruefung", "role")


def test_user_task_with_unknown_role_is_reported(pkg):
    bpmn = pkg / "process.bpmn"
    edit(bpmn, 'name="role" value="approver"', 'name="role" value="buergermeister"')
    assert_reported(pkg, "process.bpmn", line_of(bpmn, 'id="freigabe"'), "freigabe", "buergermeister")


def test_user_task_with_missing_form_file_is_reported(pkg):
    (pkg / "tasks" / "freigabe.schema.json").unlink()
    assert_reported(pkg, "tasks/freigabe.schema.json", None, "Datei fehlt")


def test_broken_bpmn_xml_is_reported_with_its_line(pkg):
    bpmn = pkg / "process.bpmn"
    edit(bpmn, '<bpmn:endEvent id="end">', '<bpmn:endEvent id="end">>')
    edit(bpmn, "</bpmn:endEvent>", "</bpmn:endEvnt>")
    assert_reported(pkg, "process.bpmn", line_of(bpmn, "</bpmn:endEvnt>"), "XML")


def test_unknown_fee_function_is_reported_in_service_yaml(pkg):
    yml = pkg / "service.yaml"
    edit(yml, "amount: \"Decimal('10.00')\"", "amount: \"gebuehr_nach_laune(data)\"")
    assert_reported(pkg, "service.yaml", line_of(yml, "fees:"), "fees.items[0].amount", "gebuehr_nach_laune")


def test_forbidden_fee_expression_is_reported(pkg):
    edit(pkg / "service.yaml", "amount: \"Decimal('10.00')\"", "amount: \"data.__class__\"")
    out, err, failure = run("validate", pkg)
    assert failure and "fees.items[0].amount" in err


def test_bad_yaml_is_reported_with_its_line(pkg):
    yml = pkg / "service.yaml"
    edit(yml, "processing_days: 10", "processing_days: [10")
    out, err, failure = run("validate", pkg)
    assert failure is not None
    m = re.search(re.escape(f"{pkg}/service.yaml:") + r"(\d+): YAML-Fehler", err)
    assert m, err
    assert abs(int(m.group(1)) - line_of(yml, "processing_days")) <= 1, err


def test_yaml_values_are_checked(pkg):
    yml = pkg / "service.yaml"
    edit(yml, "reference_prefix: TST", "reference_prefix: tst1")
    edit(yml, 'leika: "99000000000000"', 'leika: "123"')
    lines = assert_reported(pkg, "service.yaml", line_of(yml, "reference_prefix"), "reference_prefix")
    assert any(f"service.yaml:{line_of(yml, 'leika')}: leika" in ln for ln in lines), lines


def test_key_must_match_the_folder(pkg):
    target = pkg.parent / "anders"
    pkg.rename(target)
    assert_reported(target, "service.yaml", line_of(target / "service.yaml", "key:"), "Ordnernamen")


def test_every_problem_is_reported_at_once(pkg):
    edit(pkg / "form.schema.json", '"email": "erika@example.org"', '"email": "x"')
    edit(pkg / "process.bpmn", '<spiffworkflow:property name="role" value="clerk" />', "")
    out, err, failure = run("validate", pkg)
    assert failure
    files = {re.match(r".*/testdienst/([^:]+)", ln).group(1) for ln in problems(err)}
    assert {"form.schema.json", "process.bpmn"} <= files


def test_missing_folder_is_reported(tmp_path):
    out, err, failure = run("validate", tmp_path / "gibt-es-nicht")
    assert failure and "nicht gefunden" in err


def test_one_bad_package_among_good_ones(pkg):
    shutil.copytree(DEMO_DIRS[0], pkg.parent / DEMO_DIRS[0].name)
    edit(pkg / "service.yaml", "processing_days: 10", "processing_days: -3")
    out, err, failure = run("validate", pkg.parent)
    assert failure and "1 Paket(e) fehlerhaft" in failure
    assert "in Ordnung" in out and "processing_days" in err


# --------------------------------------------------------------------------- publishing versions

def test_publishing_the_same_version_twice_is_idempotent(pkg, seeded):
    from rathaus.catalog.models import ServiceVersion
    from rathaus.events.models import AuditEntry

    before = ServiceVersion.objects.count(), AuditEntry.objects.count()
    out, err, failure = run("load", pkg, "--tenant", "musterstadt")  # identical to the seeded fixture
    assert failure is None, err
    assert "testdienst 1.0.0: unverändert (musterstadt)" in out
    out, err, failure = run("load", pkg, "--tenant", "musterstadt")
    assert failure is None and "unverändert" in out
    assert (ServiceVersion.objects.count(), AuditEntry.objects.count()) == before


def test_changed_content_under_the_same_version_is_refused(pkg, seeded):
    from rathaus.catalog.models import Service, ServiceVersion

    edit(pkg / "service.yaml", "description: Eine kleine Leistung für die Tests.", "description: Geändert.")
    before = ServiceVersion.objects.count()
    out, err, failure = run("load", pkg, "--tenant", "musterstadt")
    assert failure is not None
    assert "Version 1.0.0 ist bereits mit anderem Inhalt veröffentlicht" in err
    assert ServiceVersion.objects.count() == before
    service = Service.objects.get(tenant=seeded["musterstadt"], key="testdienst")
    assert service.current_version.description == "Eine kleine Leistung für die Tests."


def test_load_into_unknown_tenant_fails(pkg, seeded):
    out, err, failure = run("load", pkg, "--tenant", "nirgendwo")
    assert failure and "nirgendwo" in failure


def test_broken_package_is_not_published(pkg, seeded):
    from rathaus.catalog.models import ServiceVersion

    edit(pkg / "service.yaml", 'version: "1.0.0"', 'version: "1.1.0"')
    edit(pkg / "form.schema.json", '"email": "erika@example.org"', '"email": "x"')
    before = ServiceVersion.objects.count()
    out, err, failure = run("load", pkg, "--tenant", "musterstadt")
    assert failure and "Beispiel 1" in err
    assert ServiceVersion.objects.count() == before


def test_running_case_keeps_its_version(pkg, api, submit, seeded):
    from rathaus.cases.models import Case

    old = submit()
    clerk, boss = api("sachbearbeitung"), api("stellvertretung")

    # version 2.0.0: a new required field and a reworded task
    edit(pkg / "service.yaml", 'version: "1.0.0"', 'version: "2.0.0"')
    form = pkg / "form.schema.json"
    edit(form, '"required": ["vorname", "nachname", "email"],', '"required": ["vorname", "nachname", "email", "telefon"],')
    edit(form, '"tarif": {', '"telefon": {"type": "string", "title": "Telefon", "minLength": 3},\n    "tarif": {')
    edit(form, '"tarif": "b"}', '"tarif": "b", "telefon": "0123 4567"}')
    edit(pkg / "process.bpmn", 'name="Antrag prüfen"', 'name="Antrag prüfen (neu)"')
    out, err, failure = run("load", pkg, "--tenant", "musterstadt")
    assert failure is None, err
    assert "testdienst 2.0.0: veröffentlicht (musterstadt)" in out

    assert api().get("/api/v1/services/testdienst", tenant="musterstadt").json()["version"] == "2.0.0"
    assert api().get("/api/v1/services/testdienst", tenant="beispielhausen").json()["version"] == "1.0.0"

    # the old case runs on with version 1.0.0
    assert Case.objects.get(pk=old["id"]).service_version.version == "1.0.0"
    [task] = clerk.get("/api/v1/tasks", case=old["id"]).json()
    assert task["title"] == "Antrag prüfen"
    assert clerk.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}}).status_code == 200
    [task] = boss.get("/api/v1/tasks", case=old["id"]).json()
    assert boss.post(f"/api/v1/tasks/{task['id']}/complete", {"data": {"decision": "approve"}}).status_code == 200
    detail = clerk.get(f"/api/v1/cases/{old['id']}").json()
    assert (detail["status"], detail["service_version"]) == ("approved", "1.0.0")

    # new applications use version 2.0.0
    r = api().post("/api/v1/submissions?tenant=musterstadt", {"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert r.status_code == 422 and {e["pointer"] for e in r.json()["errors"]} == {"/data/telefon"}
    new = submit(data={**TESTDIENST_EXAMPLE, "telefon": "0123 4567"})
    assert Case.objects.get(pk=new["id"]).service_version.version == "2.0.0"
    [task] = clerk.get("/api/v1/tasks", case=new["id"]).json()
    assert task["title"] == "Antrag prüfen (neu)"

    # loading the identical 1.0.0 again makes it current again (a rollback), without a new version
    v1 = pkg.parent.parent / "v1" / "testdienst"
    shutil.copytree(TESTDIENST, v1)
    out, err, failure = run("load", v1, "--tenant", "musterstadt")
    assert failure is None and "unverändert" in out
    assert api().get("/api/v1/services/testdienst", tenant="musterstadt").json()["version"] == "1.0.0"


def test_current_version_is_remembered_briefly_and_forgotten_on_save(submit, api, monkeypatch):
    """get_active_service remembers which version is current for CURRENT_VERSION_TTL seconds per process;
    saving the service (admin, publishing) takes effect at once, other changes after the TTL."""
    from rathaus.catalog import services as catalog
    from rathaus.catalog.models import Service

    submit()  # remembered now
    Service.objects.filter(tenant__slug="musterstadt", key="testdienst").update(active=False)  # no signal
    assert api().post("/api/v1/submissions?tenant=musterstadt",
                      {"service": "testdienst", "data": {}}).status_code == 422  # still known: validated
    monkeypatch.setattr(catalog, "CURRENT_VERSION_TTL", 0.0)
    assert api().post("/api/v1/submissions?tenant=musterstadt",
                      {"service": "testdienst", "data": {}}).status_code == 404  # TTL over: gone
    monkeypatch.setattr(catalog, "CURRENT_VERSION_TTL", 60.0)
    s = Service.objects.get(tenant__slug="musterstadt", key="testdienst")
    s.active = True
    s.save(update_fields=["active"])
    submit()  # saved: seen at once despite the long TTL
    s.active = False
    s.save(update_fields=["active"])
    assert api().post("/api/v1/submissions?tenant=musterstadt",
                      {"service": "testdienst", "data": {}}).status_code == 404
