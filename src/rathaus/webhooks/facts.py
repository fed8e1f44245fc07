"""What the case page of a Gewerbeanzeige shows of its webhooks: which partner (e.g. an agency of § 14 GewO)
received the case's events, and when (`cases.facts`)."""

from django.utils import timezone
from django.utils.translation import gettext_noop as _noop

from rathaus.cases.facts import register_case_facts

from .models import Delivery

FORWARDED = _noop("Weitergeleitet an Partner (Webhooks)")
STATUS = {Delivery.DELIVERED: "zugestellt", Delivery.PENDING: "ausstehend", Delivery.DEAD: "aufgegeben"}
# what the latest event of a case said, in words (no internal event codes on the page)
EVENT_LABELS = {
    "case.submitted": "Antrag eingegangen", "case.status_changed": "Statusänderung",
    "task.claimed": "Aufgabe übernommen", "task.released": "Aufgabe freigegeben", "task.completed": "Aufgabe erledigt",
    "notice.issued": "Bescheid erstellt", "receivable.created": "Forderung angelegt",
    "receivable.cancelled": "Forderung storniert", "receivable.paid": "Zahlung eingegangen",
}


@register_case_facts("gewerbeanmeldung")
def forwarded(case) -> list[tuple[str, str]]:
    """One line per subscription: the state of the case's latest event there (delivered when, or why not)."""
    latest: dict[int, Delivery] = {}
    for d in (Delivery.objects.filter(aggregate=f"case:{case.pk}", subscription__tenant_id=case.tenant_id)
              .select_related("subscription").order_by("event_id")):
        latest[d.subscription_id] = d
    parts = []
    for d in latest.values():
        when = d.delivered_at or d.last_attempt_at
        at = f" {timezone.localtime(when):%d.%m.%Y %H:%M}" if when else ""
        what = EVENT_LABELS.get(d.event_type, "Ereignis")
        parts.append(f"{d.subscription.name or d.subscription.url}: {what}, {STATUS[d.status]}{at}")
    return [(FORWARDED, "; ".join(parts))] if parts else []
