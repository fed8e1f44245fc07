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


# --------------------------------------------------------------------------- start templates

def _bpmn(before_task: str) -> str:
    """start -> <before_task> -> user task u -> end; before_task is BPMN between flow a and flow b."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"><bpmn:outgoing>a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="a" sourceRef="s" targetRef="x" />
    {before_task}
    <bpmn:sequenceFlow id="b" sourceRef="x" targetRef="u" />
    <bpmn:userTask id="u" name="Prüfen">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="role" value="clerk" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>b</bpmn:incoming><bpmn:outgoing>c</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="c" sourceRef="u" targetRef="e" />
    <bpmn:endEvent id="e"><bpmn:incoming>c</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _script(body: str) -> str:
    return (f'<bpmn:scriptTask id="x" name="Skript"><bpmn:incoming>a</bpmn:incoming><bpmn:outgoing>b</bpmn:outgoing>'
            f'<bpmn:script>{body}</bpmn:script></bpmn:scriptTask>')


def _normalised(state: dict) -> dict:
    """The state with task ids replaced by their position in tree order and without timestamps."""
    order = {}
    queue = [state["root"]]
    while queue:
        tid = queue.pop(0)
        order[tid] = len(order)
        queue.extend(state["tasks"][tid]["children"])
    tasks = {}
    for tid, t in state["tasks"].items():
        t = dict(t, id=order[tid], parent=order.get(t["parent"]), children=[order[c] for c in t["children"]])
        t.pop("last_state_change")
        tasks[order[tid]] = t
    return dict(state, tasks=tasks, root=0, last_task=order.get(state["last_task"]))


def _spec(bpmn: str):
    p = engine.parse_process(bpmn, "p")
    return engine.spec_to_state(p.spec, p.subprocess_specs)


def test_start_template_gives_what_a_real_start_gives():
    import uuid

    key = ("template", uuid.uuid4().hex)
    spec_state = _spec(_bpmn(_script('set_status("in_progress", "Ihr Antrag wird bearbeitet.")')))
    first = engine.start_workflow(key, spec_state, {"application": {"name": "Erika", "n": [1, {"a": 2}]}})
    assert engine._start_templates[key] is not None  # pure start: the next starts come from the template
    data = {"name": "Max", "nested": {"list": [1, 2, 3]}}
    templated = engine.start_workflow(key, spec_state, {"application": data})
    real, _ = engine._start(key, spec_state, {"application": data})
    assert _normalised(templated.state) == _normalised(real.state)
    assert [(e.name, e.args, e.kwargs) for e in templated.effects] == [(e.name, e.args, e.kwargs) for e in real.effects]
    assert [(r.name, r.title, r.properties) for r in templated.ready] == [
        (r.name, r.title, r.properties) for r in real.ready]
    # fresh task ids per case, and the ready task's id is the one in the state
    assert not set(templated.state["tasks"]) & set(first.state["tasks"])
    assert templated.ready[0].id in templated.state["tasks"]
    assert templated.state["tasks"][templated.state["root"]]["data"] == {"application": data}
    # the templated state restores and runs on like any other
    done = engine.complete_user_task(key, spec_state, templated.state, templated.ready[0].id, {"ok": True})
    assert done.completed
    wf = engine.restore_workflow(key, spec_state, done.state)
    assert wf.last_task.data["application"] == data and wf.last_task.data["u"] == {"ok": True}


@pytest.mark.parametrize("before", [
    _script('set_status("in_progress", "Antrag von " + application["name"])'),  # reads the data
    _script('kind = application["name"]'),  # writes process data
    # a gateway decides on the data which task comes first
    """<bpmn:exclusiveGateway id="x" default="b"><bpmn:incoming>a</bpmn:incoming><bpmn:outgoing>b</bpmn:outgoing>
       <bpmn:outgoing>b2</bpmn:outgoing></bpmn:exclusiveGateway>
       <bpmn:sequenceFlow id="b2" sourceRef="x" targetRef="e2">
         <bpmn:conditionExpression>application["name"] == "Eilig"</bpmn:conditionExpression></bpmn:sequenceFlow>
       <bpmn:endEvent id="e2"><bpmn:incoming>b2</bpmn:incoming></bpmn:endEvent>""",
], ids=["script-reads-data", "script-writes-data", "gateway"])
def test_starts_that_depend_on_the_data_always_run(before):
    import uuid

    key = ("template", uuid.uuid4().hex)
    spec_state = _spec(_bpmn(before))
    a = engine.start_workflow(key, spec_state, {"application": {"name": "Erika"}})
    assert engine._start_templates[key] is None
    b = engine.start_workflow(key, spec_state, {"application": {"name": "Eilig"}})
    real, _ = engine._start(key, spec_state, {"application": {"name": "Eilig"}})
    assert _normalised(b.state) == _normalised(real.state)
    assert (a.completed, [e.args for e in a.effects]) != (b.completed, [e.args for e in b.effects]) or (
        _normalised(a.state) != _normalised(b.state))


def test_demo_services_start_from_templates():
    """The shipped processes begin with set_status and a user task: their starts are templated."""
    import uuid

    from rathaus.catalog.services import demo_package_dirs, read_package

    for path in demo_package_dirs():
        pkg = read_package(path)
        key = ("demo", path.name, uuid.uuid4().hex)
        spec_state = engine.spec_to_state(pkg.parsed.spec, pkg.parsed.subprocess_specs)
        example = pkg.form_schema["examples"][0]
        engine.start_workflow(key, spec_state, {"application": example})
        assert engine._start_templates[key] is not None, path.name
        templated = engine.start_workflow(key, spec_state, {"application": example})
        real, _ = engine._start(key, spec_state, {"application": example})
        assert _normalised(templated.state) == _normalised(real.state), path.name
