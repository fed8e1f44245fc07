"""Facts other contexts add to the case page, registered by service key (the case page never names
them). A provider takes the case and returns (label, text) rows for the case header; it runs only for
cases of its service, so other cases pay no query for it.

    @register_case_facts("eingangsrechnung")
    def _vat(case): return [("Vorsteuerabzug", "ja – …")]
"""

from __future__ import annotations

from collections.abc import Callable

providers: dict[str, list[Callable]] = {}


def register_case_facts(service_key: str):
    def deco(fn):
        providers.setdefault(service_key, []).append(fn)
        return fn

    return deco


def case_facts(case) -> list[tuple[str, str]]:
    """The rows of every provider registered for the case's service (service_version__service loaded)."""
    rows: list[tuple[str, str]] = []
    for fn in providers.get(case.service_version.service.key, ()):
        rows += fn(case)
    return rows
