"""The applicant's side of a case: submitting, the access code, finding one's case again, the receipt.

A case is opened by `cases.services.submit_application` (also for cases rathaus opens itself, such as
an inbound invoice's approval); what makes it an *application* is here: the access code the applicant
gets with the Aktenzeichen, derived (HMAC) from the case's salt and never stored in clear, the lookup by
Aktenzeichen and access code (throttled per client), and the Eingangsbestätigung.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

from rathaus.cases.models import Case
from rathaus.cases.services import submit_application
from rathaus.core import throttle
from rathaus.core.errors import NotFound
from rathaus.notices.services import ensure_receipt_quietly
from rathaus.tenants.models import Tenant

ACCESS_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


@dataclass
class Submission:
    case: Case
    access_code: str
    created: bool  # False: a replay of the same Idempotency-Key


def submit(tenant: Tenant, service_key: str, data, **kwargs) -> Submission:
    """Submit an application (`cases.services.submit_application`, same arguments) and hand out its
    access code."""
    result = submit_application(tenant, service_key, data, **kwargs)
    return Submission(result.case, access_code_for(result.case), result.created)


def access_code_for(case: Case) -> str:
    """The applicant's access code (``ABCD-EFGH-JKMN``): derived (HMAC) from the case's salt."""
    msg = f"{case.tenant_id}:{case.reference}:{case.access_salt}".encode()
    n = int.from_bytes(hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).digest()[:10], "big")
    chars = []
    for _ in range(12):
        n, r = divmod(n, len(ACCESS_ALPHABET))
        chars.append(ACCESS_ALPHABET[r])
    code = "".join(chars)
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def normalize_access_code(code: str) -> str:
    c = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return f"{c[:4]}-{c[4:8]}-{c[8:12]}" if len(c) == 12 else ""


def case_for_applicant(tenant: Tenant, reference: str, access_code: str, *, client: str | None = None) -> Case:
    """The case of an Aktenzeichen and its access code (NotFound for either wrong). With `client` (the caller's
    address) its failed lookups are limited (`core.throttle`: 429 when used up)."""
    if client is not None:
        throttle.check(client)
    reference = (reference or "").strip().upper()
    if "\x00" in reference or len(reference) > 40:  # cannot name a case (PostgreSQL text refuses NUL)
        case = None
    else:
        case = (
            Case.objects.filter(tenant=tenant, reference=reference)
            .select_related("service_version", "service_version__service")
            .first()
        )
    if case is None or not hmac.compare_digest(access_code_for(case), normalize_access_code(access_code)):
        if client is not None:
            throttle.failed(client)
        raise NotFound("Kein Antrag mit diesem Aktenzeichen und Zugangscode gefunden.")
    return case


def receipt_for(case: Case):
    """The Eingangsbestätigung (PDF/A), rendered on first access, not while submitting; None if it cannot
    be rendered now (the applicant's page still works)."""
    return ensure_receipt_quietly(case)
