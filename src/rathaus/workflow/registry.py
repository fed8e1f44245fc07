"""Registry of functions that BPMN script tasks may call (plugin pattern).

Apps register their functions at import time (`script_functions.register("set_status", fn)`);
the core never names a concrete integration.
"""

from collections.abc import Callable


class ScriptFunctionRegistry:
    def __init__(self):
        self._functions: dict[str, Callable] = {}
        self.generation = 0

    def register(self, name: str, fn: Callable | None = None):
        def deco(f):
            self._functions[name] = f
            self.generation += 1
            return f

        return deco(fn) if fn is not None else deco

    def as_dict(self) -> dict[str, Callable]:
        return dict(self._functions)

    def get(self, name: str) -> Callable | None:
        return self._functions.get(name)

    def __contains__(self, name):
        return name in self._functions


script_functions = ScriptFunctionRegistry()  # callable from script tasks and expressions
service_operators = ScriptFunctionRegistry()  # operators of BPMN service tasks
