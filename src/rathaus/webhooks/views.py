"""Staff pages of the webhooks (role `admin`): subscriptions (list, create, (de)activate, delete) and each one's
delivery log with status, attempts, status code and duration; dead deliveries can be sent again."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from rathaus.core.errors import Invalid
from rathaus.core.web import staff_view

from . import services
from .models import Delivery, Subscription

LOG_SIZE = 100


def _admin(membership) -> None:
    if not membership.has_role("admin"):
        raise PermissionDenied(_("Webhooks sind der Administration vorbehalten."))


def _sub(membership, pk: int) -> Subscription:
    sub = Subscription.objects.filter(pk=pk, tenant_id=membership.tenant_id).select_related("tenant").first()
    if sub is None:
        raise Http404
    return sub


@staff_view
def index(request, membership):
    _admin(membership)
    status, secret, form = 200, None, {"url": "", "events": "", "name": ""}
    if request.method == "POST":
        form = {k: request.POST.get(k, "")[:4000] for k in form}
        try:
            sub = services.create_subscription(
                membership.tenant, actor=request.user.get_username(), url=form["url"].strip(),
                events=[t.strip() for t in form["events"].replace(",", " ").split() if t.strip()],
                name=form["name"].strip())
            secret = sub.secret
            form = {"url": "", "events": "", "name": ""}
            messages.success(request, _("Webhook angelegt. Das Geheimnis wird nur jetzt angezeigt."))
        except Invalid as e:
            messages.error(request, e.errors[0]["message"] if e.errors else e.detail)
            status = 422
    subs = list(Subscription.objects.filter(tenant_id=membership.tenant_id))
    counts = services.delivery_counts(subs)
    rows = [{"s": s, "counts": counts.get(s.pk, {})} for s in subs]
    return render(request, "webhooks/index.html", {"rows": rows, "secret": secret, "form": form,
                                                    "families": services.FAMILIES}, status=status)


@staff_view
def detail(request, membership, pk: int):
    _admin(membership)
    sub = _sub(membership, pk)
    wanted = request.GET.get("status", "")
    log = Delivery.objects.filter(subscription=sub).order_by("-id")
    if wanted in {Delivery.PENDING, Delivery.DELIVERED, Delivery.DEAD}:
        log = log.filter(status=wanted)
    return render(request, "webhooks/detail.html", {"sub": sub, "log": log[:LOG_SIZE], "wanted": wanted})


@staff_view
@require_POST
def action(request, membership, pk: int):
    _admin(membership)
    sub = _sub(membership, pk)
    what, actor = request.POST.get("action"), request.user.get_username()
    if what in ("activate", "deactivate"):
        services.update_subscription(sub, actor=actor, active=what == "activate")
        messages.success(request, _("Webhook aktiviert.") if sub.active else _("Webhook deaktiviert."))
    elif what == "redeliver":
        n = services.redeliver(sub, actor=actor, failed=True)
        messages.success(request, _("%(n)s aufgegebene Zustellungen werden erneut versucht.") % {"n": n})
    elif what == "delete":
        services.delete_subscription(sub, actor=actor)
        messages.success(request, _("Webhook gelöscht."))
        return redirect(reverse("webhooks:index"))
    else:
        raise Http404
    return redirect(reverse("webhooks:detail", args=[sub.pk]))
