"""Failed-attempt limits for the applicant's access-code lookups (status page, status API, documents).

The access code has 60 bits (12 characters of a 32-letter alphabet), so guessing it is hopeless anyway; the
limit keeps a client from hammering the lookup (load, log noise) and from probing many Aktenzeichen. Counted
are failures only, in Django's cache, per client address (`REMOTE_ADDR`; behind a proxy the proxy must set
it). Deliberately not per Aktenzeichen: Aktenzeichen are sequential, so such a limit would let anybody lock
every applicant out of their own status page. The cache of the settings is the database (`DatabaseCache`), so
all server processes count together. Read and write are not one atomic step: two failures at the same instant
may count as one, which a limit of this kind can bear.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from .errors import DomainError


class TooManyAttempts(DomainError):
    status = 429
    title = "Zu viele Versuche"

    def __init__(self, retry_after: int):
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(f"Zu viele erfolglose Versuche. Bitte versuchen Sie es in {minutes} "
                         f"Minute{'n' if minutes != 1 else ''} erneut.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    scope: str
    attempts: int   # failures allowed within the window
    window: int     # seconds


def _keys(client: str) -> list[tuple[Limit, str]]:
    limit = Limit("client", getattr(settings, "RATHAUS_STATUS_FAILURES_PER_CLIENT", 30),
                  getattr(settings, "RATHAUS_STATUS_FAILURE_WINDOW", 15 * 60))
    return [(limit, f"rathaus:fail:client:{client or '-'}")]


def check(client: str) -> None:
    """Raise TooManyAttempts while the client has used up its failures."""
    now = time.time()
    for limit, key in _keys(client):
        count, start = cache.get(key) or (0, now)
        if count >= limit.attempts and now - start < limit.window:
            raise TooManyAttempts(int(limit.window - (now - start)) + 1)


def failed(client: str) -> None:
    """Count one failed lookup (a fixed window per key, starting with its first failure)."""
    now = time.time()
    for limit, key in _keys(client):
        count, start = cache.get(key) or (0, now)
        if now - start >= limit.window:
            count, start = 0, now
        cache.set(key, (count + 1, start), timeout=limit.window)


def client_of(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "")[:64]
