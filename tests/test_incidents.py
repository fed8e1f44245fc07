"""A broken process (administrator's error) never loses an application: the case is kept as an incident."""

import shutil

from rathaus.cases.models import Case
from rathaus.catalog.services import publish_package
from tests.conftest import TESTDIENST, TESTDIENST_EXAMPLE


def test_broken_process_keeps_application(api, seeded, tmp_path):
    pkg = tmp_path / "testdienst"
    shutil.copytree(TESTDIENST, pkg)
    (pkg / "service.yaml").write_text((pkg / "service.yaml").read_text().replace('"1.0.0"', '"1.0.1-kaputt"'))
    bpmn = (pkg / "process.bpmn").read_text().replace('set_status("in_progress"', 'set_status("unbekannt"')
    (pkg / "process.bpmn").write_text(bpmn)
    publish_package(pkg, tenant=seeded["musterstadt"], actor="test")

    r = api().post("/api/v1/submissions?tenant=musterstadt", {"service": "testdienst", "data": TESTDIENST_EXAMPLE})
    assert r.status_code == 201, r.content
    case = Case.objects.get(pk=r.json()["id"])
    assert case.status == "received"
    assert "unbekannter Status" in case.workflow_error
    assert case.events.filter(kind="incident").exists()
