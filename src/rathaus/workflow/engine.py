"""SpiffWorkflow integration: parse service processes, run them, (de)serialize their state.

- Processes are parsed once at publication (`parse_process`) and stored serialized on the
  ServiceVersion; each worker process keeps the restored spec objects in a cache keyed by the
  version's id, so a request never parses BPMN.
- A case stores only the workflow's *state* (tasks and data), not the spec: restoring puts the
  cached spec objects back in (`CachedSpecWorkflowConverter`).
- Scripts run in-process (BPMN files are trusted admin input) with a small set of functions
  (`set_status`, ...). They do not touch the database themselves: they record *effects* that the
  cases service applies in its transaction.
- The engine is set again after every restore; the script engine subclass fixes SpiffWorkflow's
  error path (which can raise TypeError/NameError while reporting an error).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from .registry import script_functions, service_operators

CASE_STATUSES = ("received", "in_progress", "waiting_for_applicant", "approved", "rejected", "withdrawn", "closed")


class WorkflowError(Exception):
    """A process could not be parsed or run; the message is meant for administrators."""


# --------------------------------------------------------------------------- effects

@dataclass
class Effect:
    name: str
    args: tuple
    kwargs: dict


_effects: contextvars.ContextVar[list[Effect] | None] = contextvars.ContextVar("rathaus_effects", default=None)


def emit_effect(name: str, *args, **kwargs) -> None:
    effects = _effects.get()
    if effects is None:
        raise WorkflowError(f"{name}() may only be called from a running process")
    effects.append(Effect(name, args, kwargs))


def _set_status(status: str, note: str = "") -> None:
    if status not in CASE_STATUSES:
        raise WorkflowError(f"set_status: unbekannter Status {status!r}; erlaubt: {', '.join(CASE_STATUSES)}")
    emit_effect("set_status", status, note=str(note))


script_functions.register("set_status", _set_status)
service_operators.register("set_status", _set_status)


# --------------------------------------------------------------------------- script engine

class RathausScriptEngine(PythonScriptEngine):
    """PythonScriptEngine with a robust error path and our script functions."""

    def __init__(self):
        env_globals = {"Decimal": Decimal, "date": dt.date, "datetime": dt.datetime}
        env_globals.update(script_functions.as_dict())
        super().__init__(environment=TaskDataEnvironment(env_globals))

    def create_task_exec_exception(self, task, script, err):
        # Upstream concatenates err.args[0] to a str and fails for non-str args.
        from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

        if isinstance(err, SpiffWorkflowException):
            return err
        line_number = getattr(err, "lineno", 0) or 0
        detail = f"{err.__class__.__name__}: {err}"
        return WorkflowTaskException(detail, task=task, exception=err, line_number=line_number, error_line="")

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        """Service tasks (`spiffworkflow:serviceTaskOperator id="..."`) call a registered operator.

        Upstream's version references an undefined name on error; ours reports the operator.
        The result is returned as JSON, as SpiffWorkflow's service task expects.
        """
        import json

        fn = service_operators.get(operation_name)
        try:
            if fn is None:
                raise WorkflowError(f"Unbekannter Dienst {operation_name!r} in Service-Task")
            params = {k: v.get("value") if isinstance(v, dict) else v for k, v in (operation_params or {}).items()}
            return json.dumps(fn(**params), default=str)
        except Exception as err:  # noqa: BLE001
            raise self.create_task_exec_exception(task, "", err) from err


_engine_local = threading.local()


def script_engine() -> RathausScriptEngine:
    engine = getattr(_engine_local, "engine", None)
    if engine is None or getattr(_engine_local, "generation", None) != script_functions.generation:
        engine = _engine_local.engine = RathausScriptEngine()
        _engine_local.generation = script_functions.generation
    return engine


# --------------------------------------------------------------------------- serialization

class CachedSpecWorkflowConverter(BpmnWorkflowConverter):
    """Restores a workflow whose `spec`/`subprocess_specs` are already spec objects."""

    def from_dict(self, dct):
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if isinstance(spec, dict):
            spec = self.registry.restore(spec)
            subprocess_specs = self.mapping_from_dict(subprocess_specs)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        from uuid import UUID

        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = CachedSpecWorkflowConverter
_registry = BpmnWorkflowSerializer.configure(_config)
serializer = BpmnWorkflowSerializer(_registry)


def spec_to_state(spec, subprocess_specs) -> dict:
    return {
        "spec": _registry.convert(spec),
        "subprocess_specs": {k: _registry.convert(v) for k, v in subprocess_specs.items()},
    }


def workflow_to_state(workflow: BpmnWorkflow) -> dict:
    dct = serializer.to_dict(workflow)
    dct.pop("spec", None)
    dct.pop("subprocess_specs", None)
    dct[serializer.VERSION_KEY] = serializer.VERSION
    return dct


_spec_cache: dict[Any, tuple] = {}
_spec_lock = threading.Lock()


def specs_for(cache_key, spec_state: dict):
    """Spec objects for a published version, restored once per process."""
    hit = _spec_cache.get(cache_key)
    if hit is None:
        with _spec_lock:
            hit = _spec_cache.get(cache_key)
            if hit is None:
                spec = _registry.restore(_deepcopy_json(spec_state["spec"]))
                subs = {k: _registry.restore(_deepcopy_json(v)) for k, v in spec_state["subprocess_specs"].items()}
                hit = _spec_cache[cache_key] = (spec, subs)
    return hit


def _deepcopy_json(obj):
    import json

    return json.loads(json.dumps(obj))


def _parents_first(tasks: dict, root: str | None) -> dict:
    """The task mapping in tree order (every parent before its children).

    SpiffWorkflow stores a task's data as a delta to its parent's and rebuilds it while restoring the
    tasks one by one in mapping order; PostgreSQL's jsonb does not keep the order of object keys (it
    sorts them), so without this a child could come before its parent and lose the process data."""
    ordered: dict = {}
    queue = [root] if root else []
    while queue:
        tid = queue.pop(0)
        task = tasks.get(tid)
        if task is None or tid in ordered:
            continue
        ordered[tid] = task
        queue.extend(task.get("children") or [])
    for tid, task in tasks.items():  # anything not reachable from the root keeps its place after the tree
        ordered.setdefault(tid, task)
    return ordered


def restore_workflow(cache_key, spec_state: dict, state: dict) -> BpmnWorkflow:
    spec, subs = specs_for(cache_key, spec_state)
    dct = _deepcopy_json(state)
    dct.pop(serializer.VERSION_KEY, None)
    if isinstance(dct.get("tasks"), dict):
        dct["tasks"] = _parents_first(dct["tasks"], dct.get("root"))
    for sub in (dct.get("subprocesses") or {}).values():
        if isinstance(sub, dict) and isinstance(sub.get("tasks"), dict):
            sub["tasks"] = _parents_first(sub["tasks"], sub.get("root"))
    dct["spec"] = spec
    dct["subprocess_specs"] = subs
    wf = _registry.restore(dct)
    wf.script_engine = script_engine()  # set the engine again after every restore
    return wf


# --------------------------------------------------------------------------- parsing

@dataclass
class ParsedProcess:
    spec: Any
    subprocess_specs: dict
    user_tasks: list[dict]


def parse_process(bpmn_xml: str | bytes, process_id: str, filename: str = "process.bpmn") -> ParsedProcess:
    from lxml import etree

    parser = SpiffBpmnParser()
    try:
        data = bpmn_xml.encode() if isinstance(bpmn_xml, str) else bpmn_xml
        xml_parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)
        tree = etree.fromstring(data, parser=xml_parser)
        parser.add_bpmn_xml(tree, filename=filename)
        spec = parser.get_spec(process_id)
        subs = parser.get_subprocess_specs(process_id)
    except etree.XMLSyntaxError as e:
        raise WorkflowError(f"{filename}:{e.lineno}: XML-Fehler: {e.msg}") from e
    except SpiffWorkflowException as e:
        line = getattr(e, "line_number", None) or getattr(e, "sourceline", None) or ""
        raise WorkflowError(f"{filename}:{line}: {e}") from e
    except Exception as e:  # noqa: BLE001 - the parser raises many kinds
        raise WorkflowError(f"{filename}: {e}") from e
    user_tasks = []
    for name, ts in spec.task_specs.items():
        if isinstance(ts, UserTask):
            props = dict((ts.extensions or {}).get("properties") or {})
            user_tasks.append({"name": name, "title": ts.bpmn_name or name, "properties": props})
    return ParsedProcess(spec, subs, user_tasks)


# --------------------------------------------------------------------------- running

@dataclass
class ReadyTask:
    id: str  # Spiff task UUID
    name: str  # BPMN id
    title: str
    properties: dict


@dataclass
class RunResult:
    state: dict
    ready: list[ReadyTask] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    completed: bool = False


def _run(workflow: BpmnWorkflow, step) -> RunResult:
    effects: list[Effect] = []
    token = _effects.set(effects)
    try:
        step()
        workflow.do_engine_steps()
    except SpiffWorkflowException as e:
        raise WorkflowError(str(e)) from e
    finally:
        _effects.reset(token)
    ready = [
        ReadyTask(
            id=str(t.id),
            name=t.task_spec.name,
            title=t.task_spec.bpmn_name or t.task_spec.name,
            properties=dict((t.task_spec.extensions or {}).get("properties") or {}),
        )
        for t in workflow.get_tasks(state=TaskState.READY, manual=True)
    ]
    return RunResult(state=workflow_to_state(workflow), ready=ready, effects=effects, completed=workflow.is_completed())


def start_workflow(cache_key, spec_state: dict, variables: dict) -> RunResult:
    """Run a new process up to its first wait state.

    Most processes begin the same way whatever the application says (start event, `set_status(...)`,
    then the first user task). For those the result differs from case to case only in the task ids,
    the timestamps and the variables, so after the first real run per process version and worker it is
    taken from a template (`_StartTemplate`), a fraction of a SpiffWorkflow run. A process
    whose start reads the data (gateways, other scripts, service tasks, pre-/post-scripts, timers, …)
    always runs for real."""
    tpl = _start_templates.get(cache_key, _UNKNOWN)
    if tpl is not None and tpl is not _UNKNOWN and set(variables) == tpl.variable_keys:
        return tpl.instantiate(variables)
    result, wf = _start(cache_key, spec_state, variables)
    if tpl is _UNKNOWN and cache_key is not None:
        _start_templates[cache_key] = _StartTemplate.build(wf, result, variables)  # None: always run
    return result


def _start(cache_key, spec_state: dict, variables: dict) -> tuple[RunResult, BpmnWorkflow]:
    spec, subs = specs_for(cache_key, spec_state)
    wf = BpmnWorkflow(spec, subs, script_engine=script_engine())

    def step():
        start = wf.get_tasks(state=TaskState.READY)
        for t in start:
            t.data.update(_deepcopy_json(variables))

    return _run(wf, step), wf


class _StartTemplate:
    """The serialized state of a process start that did not depend on the start variables."""

    def __init__(self, state: dict, ready: list[ReadyTask], effects: list[Effect], completed: bool,
                 variable_keys: set):
        self.state, self.ready, self.effects, self.completed = state, ready, effects, completed
        self.variable_keys = variable_keys
        self.root = state["root"]
        self.task_ids = list(state["tasks"])

    @classmethod
    def build(cls, wf: BpmnWorkflow, result: RunResult, variables: dict) -> _StartTemplate | None:
        if not _start_is_data_independent(wf):
            return None
        state = result.state
        if state.get("data") or state.get("correlations") or state.get("subprocesses") or state.get("bpmn_events"):
            return None
        root = state["tasks"].get(state.get("root"))
        if root is None or root.get("parent") is not None or root.get("delta"):
            return None
        for tid, t in state["tasks"].items():
            if t["internal_data"] not in ({}, {"event_fired": True}) or t.get("triggered"):
                return None
            delta = t.get("delta") or {}
            if tid != state["root"] and (t.get("data") or delta.get("updates") or set(delta) - {"updates", "deletions"}):
                return None  # a task holds data of its own: not a pure copy of the start variables
        tpl = cls(_deepcopy_json(state), result.ready, result.effects, result.completed, set(variables))
        tpl.state["tasks"][tpl.root]["data"] = None  # filled per case
        return tpl

    def instantiate(self, variables: dict) -> RunResult:
        import time
        import uuid

        ids = {old: str(uuid.uuid4()) for old in self.task_ids}
        now = time.time()
        tasks = {}
        for old, t in self.state["tasks"].items():
            new = ids[old]
            n = dict(t)
            n["id"] = new
            n["parent"] = ids[t["parent"]] if t["parent"] is not None else None
            n["children"] = [ids[c] for c in t["children"]]
            n["last_state_change"] = now
            if old == self.root:
                n["data"] = _deepcopy_json(variables)
            elif t["delta"]:  # never has updates (see build): only the names of dropped variables
                n["delta"] = {"updates": {}, "deletions": list(t["delta"]["deletions"])}
            n["internal_data"] = dict(t["internal_data"])
            tasks[new] = n
        state = dict(self.state)
        state["tasks"] = tasks
        state["root"] = ids[self.root]
        if state.get("last_task"):
            state["last_task"] = ids[state["last_task"]]
        ready = [ReadyTask(id=ids[r.id], name=r.name, title=r.title, properties=dict(r.properties)) for r in self.ready]
        effects = [Effect(e.name, tuple(e.args), dict(e.kwargs)) for e in self.effects]
        return RunResult(state=state, ready=ready, effects=effects, completed=self.completed)


_UNKNOWN = object()
_start_templates: dict[Any, _StartTemplate | None] = {}


def _pure_script(script: str | None) -> bool:
    """True for scripts that only call `set_status` with literal arguments (no data read or written)."""
    import ast

    if not script:
        return False
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return False
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
            return False
        call = stmt.value
        if not (isinstance(call.func, ast.Name) and call.func.id == "set_status"):
            return False
        if not all(isinstance(a, ast.Constant) for a in call.args):
            return False
        if not all(kw.arg and isinstance(kw.value, ast.Constant) for kw in call.keywords):
            return False
    return True


def _start_is_data_independent(wf: BpmnWorkflow) -> bool:
    """Every task that ran (or became ready) during the start is one whose outcome cannot depend on data."""
    from SpiffWorkflow.bpmn.specs.control import BpmnStartTask
    from SpiffWorkflow.bpmn.specs.event_definitions.simple import NoneEventDefinition
    from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
    from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptTask

    if wf.subprocesses:
        return False
    for task in wf.get_tasks():
        state = task.state
        if state in (TaskState.FUTURE, TaskState.LIKELY, TaskState.MAYBE):
            continue  # predicted only, nothing ran
        spec = task.task_spec
        if getattr(spec, "prescript", None) or getattr(spec, "postscript", None):
            return False
        if getattr(spec, "data_input_associations", None) or getattr(spec, "data_output_associations", None):
            return False
        if getattr(spec, "io_specification", None) is not None:
            return False
        if state == TaskState.READY and isinstance(spec, UserTask):
            continue
        if state != TaskState.COMPLETED:
            return False
        if type(spec) is BpmnStartTask:
            continue
        if isinstance(spec, StartEvent) and type(spec.event_definition) is NoneEventDefinition:
            continue
        if isinstance(spec, ScriptTask) and _pure_script(spec.script):
            continue
        return False
    return True


def complete_user_task(cache_key, spec_state: dict, state: dict, task_id: str, data: dict) -> RunResult:
    from uuid import UUID

    wf = restore_workflow(cache_key, spec_state, state)
    task = wf.get_task_from_id(UUID(task_id))
    if task is None or task.state != TaskState.READY:
        raise WorkflowError("Die Aufgabe ist im Prozess nicht (mehr) bereit.")

    def step():
        task.data[task.task_spec.name] = _deepcopy_json(data)
        task.run()

    return _run(wf, step)
