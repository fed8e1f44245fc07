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


# --------------------------------------------------------------------------- fees and API details

# The fees of a case (Kassenzeichen, amount, open amount, due date, payment status) as the clerk's case page
# and the applicant's status page show them: given by the app that keeps receivables (finance registers
# from its AppConfig.ready); without one a case simply has no fees.
fee_providers: list[Callable] = []

# More parts of a case's API answer (`GET /api/v1/cases/{id}`), by key: e.g. "receivables" from finance.
detail_providers: dict[str, Callable] = {}


def register_case_fees(fn: Callable) -> Callable:
    if fn not in fee_providers:
        fee_providers.append(fn)
    return fn


def case_fees(case) -> list[dict]:
    rows: list[dict] = []
    for fn in fee_providers:
        rows += fn(case)
    return rows


def register_case_detail(key: str):
    def deco(fn):
        detail_providers[key] = fn
        return fn

    return deco


def case_details(case) -> dict:
    """The registered parts of a case's API answer (each provider gets the case and returns JSON data)."""
    return {key: fn(case) for key, fn in detail_providers.items()}
