"""Webhooks API (bearer token): subscriptions and their delivery log (role `admin`), and the pull API for
partners behind firewalls: `GET /events?after=<cursor>&limit=` (roles `admin`, `treasury`, `accounting`: the
roles that read all of their tenant's cases and money; clerks read cases only on a need-to-know basis).
Everything is scoped to the token's tenant; other tenants' subscriptions answer 404."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from ninja import Router, Schema, Status
from pydantic import Field

from rathaus.core.api import DbId
from rathaus.core.errors import Forbidden, Invalid, NotFound
from rathaus.events import outbox
from rathaus.tenants.auth import TokenAuth

from . import services
from .models import Delivery, Subscription

router = Router(tags=["Webhooks und Ereignisse"], auth=TokenAuth())
EVENT_READ_ROLES = {"admin", "treasury", "accounting"}


def _admin(request):
    m = request.membership
    if not m.has_role("admin"):
        raise Forbidden("Webhooks sind der Administration vorbehalten (Rolle: admin).")
    return m


def _sub(request, sid: int) -> Subscription:
    m = _admin(request)
    sub = Subscription.objects.filter(pk=sid, tenant_id=m.tenant_id).select_related("tenant").first()
    if sub is None:
        raise NotFound("Dieses Webhook-Abonnement gibt es nicht.")
    return sub


def _actor(request) -> str:
    return request.user.get_username()


Text = Annotated[str, Field(max_length=4000)]


class SubscriptionIn(Schema):
    url: Text
    events: list[Annotated[str, Field(max_length=100)]] | None = Field(None, max_length=50)
    secret: Annotated[str, Field(max_length=200)] | None = None
    name: Annotated[str, Field(max_length=200)] = ""


class SubscriptionPatch(Schema):
    url: Text | None = None
    events: list[Annotated[str, Field(max_length=100)]] | None = Field(None, max_length=50)
    secret: Annotated[str, Field(max_length=200)] | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    active: bool | None = None


class SubscriptionOut(Schema):
    id: int
    name: str
    url: str
    events: list[str]
    active: bool
    created_at: dt.datetime
    secret: str | None = None  # only in the answer that created it (or set a new one)


class DeliveryOut(Schema):
    id: int
    event_id: int
    event_type: str
    aggregate: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_duration_ms: int | None
    last_response: str
    last_error: str
    delivered_at: dt.datetime | None


class RedeliverIn(Schema):
    failed: bool = False
    since: dt.datetime | None = None


def _out(sub: Subscription, secret: bool = False) -> dict:
    return {"id": sub.pk, "name": sub.name, "url": sub.url, "events": sub.event_types, "active": sub.active,
            "created_at": sub.created_at, "secret": sub.secret if secret else None}


@router.post("/webhooks", response={201: SubscriptionOut}, summary="Webhook abonnieren")
def create(request, payload: SubscriptionIn):
    m = _admin(request)
    sub = services.create_subscription(m.tenant, actor=_actor(request), url=payload.url, events=payload.events,
                                       secret=payload.secret, name=payload.name)
    return Status(201, _out(sub, secret=True))


@router.get("/webhooks", response=list[SubscriptionOut], summary="Webhook-Abonnements")
def index(request):
    m = _admin(request)
    return [_out(s) for s in Subscription.objects.filter(tenant_id=m.tenant_id)]


@router.get("/webhooks/{sid}", response=SubscriptionOut, summary="Ein Webhook-Abonnement")
def detail(request, sid: DbId):
    return _out(_sub(request, sid))


@router.patch("/webhooks/{sid}", response=SubscriptionOut, summary="Webhook-Abonnement ändern")
def change(request, sid: DbId, payload: SubscriptionPatch):
    sub = _sub(request, sid)
    changes = payload.dict(exclude_unset=True)
    if any(v is None for k, v in changes.items() if k != "events"):
        raise Invalid(errors=[{"pointer": f"/{k}", "message": "Darf nicht leer sein."}
                              for k, v in changes.items() if v is None and k != "events"])
    services.update_subscription(sub, actor=_actor(request), **changes)
    return _out(sub, secret="secret" in changes)


@router.delete("/webhooks/{sid}", response={204: None}, summary="Webhook-Abonnement löschen")
def delete(request, sid: DbId):
    services.delete_subscription(_sub(request, sid), actor=_actor(request))
    return Status(204, None)


@router.get("/webhooks/{sid}/deliveries", response=list[DeliveryOut], summary="Zustellungen (Protokoll)")
def deliveries(request, sid: DbId, status: str | None = None, limit: Annotated[int, Field(ge=1, le=1000)] = 100,
               before: DbId | None = None):
    sub = _sub(request, sid)
    qs = Delivery.objects.filter(subscription=sub).order_by("-id")
    if status is not None:
        if status not in {Delivery.PENDING, Delivery.DELIVERED, Delivery.DEAD}:
            raise Invalid(errors=[{"pointer": "/status", "message": "Erlaubt: pending, delivered, dead."}])
        qs = qs.filter(status=status)
    if before is not None:
        qs = qs.filter(id__lt=before)
    return list(qs[:limit])


@router.post("/webhooks/{sid}/redeliver", summary="Erneut zustellen (aufgegebene, oder alle seit)")
def redeliver(request, sid: DbId, payload: RedeliverIn):
    sub = _sub(request, sid)
    if not payload.failed and payload.since is None:
        raise Invalid("Anzugeben ist failed: true oder since.",
                      errors=[{"pointer": "", "message": "failed: true oder since angeben."}])
    return {"redelivered": services.redeliver(sub, actor=_actor(request), failed=payload.failed,
                                                    since=payload.since)}


@router.get("/events", summary="Ereignisse abholen (CloudEvents, in Reihenfolge)")
def events(request, after: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0,
           limit: Annotated[int, Field(ge=1, le=1000)] = 100):
    m = request.membership
    if not EVENT_READ_ROLES & set(m.roles):
        raise Forbidden("Ereignisse abholen dürfen Administration, Stadtkasse und Kämmerei.")
    page = outbox.page(m.tenant_id, after, limit)
    docs = [services.event_document(e, m.tenant) for e in page]
    return {"events": docs, "next": str(page[-1].id if page else after)}
