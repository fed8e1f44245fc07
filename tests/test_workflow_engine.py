"""The SpiffWorkflow integration: parse, run, serialize without spec, restore, service tasks, errors."""

import pytest

from rathaus.workflow import engine

SERVICE_TASK_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="svc" />
    <bpmn:serviceTask id="svc" name="Status setzen">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="set_status" resultVariable="r">
          <spiffworkflow:parameters>
            <spiffworkflow:parameter id="status" type="str" value="'in_progress'" />
            <spiffworkflow:parameter id="note" type="str" value="'Prüfung läuft: ' + application['name']" />
          </spiffworkflow:parameters>
        </spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>a</bpmn:incoming><bpmn:outgoing>b</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:sequenceFlow id="b" sourceRef="svc" targetRef="u" />
    <bpmn:userTask id="u" name="Prüfen">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="role" value="clerk" />
        <spiffworkflow:property name="form" value="tasks/u.schema.json" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>b</bpmn:incoming><bpmn:outgoing>c</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="c" sourceRef="u" targetRef="boom" />
    <bpmn:scriptTask id="boom" name="Skript">
      <bpmn:incoming>c</bpmn:incoming><bpmn:outgoing>d</bpmn:outgoing>
      <bpmn:script>x = u["value"] / 0 if u["value"] == 0 else set_status("approved")</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:sequenceFlow id="d" sourceRef="boom" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>d</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


@pytest.fixture
def parsed():
    p = engine.parse_process(SERVICE_TASK_BPMN, "p")
    return p, engine.spec_to_state(p.spec, p.subprocess_specs)


def test_service_task_operator_and_user_task(parsed):
    p, spec_state = parsed
    assert [u["properties"]["role"] for u in p.user_tasks] == ["clerk"]
    r = engine.start_workflow(("t", 1), spec_state, {"application": {"name": "Erika"}})
    assert [(e.name, e.args, e.kwargs) for e in r.effects] == [
        ("set_status", ("in_progress",), {"note": "Prüfung läuft: Erika"})
    ]
    assert [t.name for t in r.ready] == ["u"]
    assert "spec" not in r.state  # the spec is stored once per version, not per case
    r2 = engine.complete_user_task(("t", 1), spec_state, r.state, r.ready[0].id, {"value": 1})
    assert r2.completed and [e.args[0] for e in r2.effects] == ["approved"]


def test_script_error_is_reported_not_crashing(parsed):
    _, spec_state = parsed
    r = engine.start_workflow(("t", 2), spec_state, {"application": {"name": "Erika"}})
    with pytest.raises(engine.WorkflowError, match="ZeroDivisionError"):
        engine.complete_user_task(("t", 2), spec_state, r.state, r.ready[0].id, {"value": 0})


def test_unknown_status_and_operator_are_errors():
    bad = SERVICE_TASK_BPMN.replace("'in_progress'", "'kaputt'")
    p = engine.parse_process(bad, "p")
    with pytest.raises(engine.WorkflowError, match="unbekannter Status"):
        engine.start_workflow(("t", 3), engine.spec_to_state(p.spec, p.subprocess_specs), {"application": {"name": "x"}})
    bad = SERVICE_TASK_BPMN.replace('serviceTaskOperator id="set_status"', 'serviceTaskOperator id="nope"')
    p = engine.parse_process(bad, "p")
    with pytest.raises(engine.WorkflowError, match="Unbekannter Dienst"):
        engine.start_workflow(("t", 4), engine.spec_to_state(p.spec, p.subprocess_specs), {"application": {"name": "x"}})


def test_parse_errors_name_file_and_line():
    with pytest.raises(engine.WorkflowError, match=r"process\.bpmn:\d+"):
        engine.parse_process("<bpmn:definitions", "p")
    with pytest.raises(engine.WorkflowError):
        engine.parse_process(SERVICE_TASK_BPMN, "does_not_exist")


def test_xml_entities_are_not_resolved():
    evil = SERVICE_TASK_BPMN.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>',
    ).replace('name="Prüfen"', 'name="&e;"')
    try:
        p = engine.parse_process(evil, "p")
    except engine.WorkflowError:
        return
    assert "root:" not in p.user_tasks[0]["title"]


def test_process_data_survives_a_restore_whatever_the_order_of_the_stored_tasks(parsed):
    """PostgreSQL's jsonb sorts object keys; SpiffWorkflow stores task data as deltas to the parent and
    rebuilds them in mapping order: the restore must put parents first, or the data is lost."""
    p, spec_state = parsed
    r = engine.start_workflow(("t", 2), spec_state, {"application": {"name": "Erika"}})
    shuffled = dict(r.state)
    shuffled["tasks"] = dict(sorted(r.state["tasks"].items(), reverse=True))  # children before parents
    wf = engine.restore_workflow(("t", 2), spec_state, shuffled)
    ready = [t for t in wf.get_tasks() if t.task_spec.name == "u"][0]
    assert ready.data.get("application") == {"name": "Erika"}
