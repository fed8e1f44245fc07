"""Tenant lookups, API tokens, role/org-unit checks."""

from __future__ import annotations

import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from rathaus.core.errors import Forbidden, NotFound

from .models import ApiToken, Membership, OrgUnit, Tenant, hash_token

_tree_cache: dict[int, tuple[float, dict[int, int | None], dict[str, int]]] = {}
_tree_lock = threading.Lock()
TREE_TTL = 60.0


def tenant_by_slug(slug: str) -> Tenant:
    t = Tenant.objects.filter(slug=slug).first()
    if t is None:
        raise NotFound(f"Mandant „{slug}“ nicht gefunden.")
    return t


# Public requests resolve their tenant by host name; the answer is kept for a few seconds.
_tenant_host_cache: dict[str, tuple[float, Tenant | None]] = {}
TENANT_TTL = 10.0


def resolve_tenant(host: str | None, explicit_slug: str | None = None) -> Tenant | None:
    """Tenant of a public request: explicit slug, else host name, else the default tenant."""
    cache_key = f"slug:{explicit_slug}" if explicit_slug else "host:" + (host or "").split(":")[0].lower()
    now = timezone.now().timestamp()
    hit = _tenant_host_cache.get(cache_key)
    if hit and now - hit[0] < TENANT_TTL:
        return hit[1]
    if explicit_slug:
        tenant = Tenant.objects.filter(slug=explicit_slug).first()
    else:
        hostname = cache_key[5:]
        tenant = None
        if hostname:
            for t in Tenant.objects.exclude(hostnames=[]).only("id", "hostnames"):
                if hostname in [h.lower() for h in t.hostnames or []]:
                    tenant = Tenant.objects.get(pk=t.pk)
                    break
        if tenant is None:
            tenant = Tenant.objects.filter(slug=settings.RATHAUS_DEFAULT_TENANT).first()
    if len(_tenant_host_cache) > 1000:
        _tenant_host_cache.clear()
    _tenant_host_cache[cache_key] = (now, tenant)
    return tenant


def _org_tree(tenant_id: int) -> tuple[dict[int, int | None], dict[str, int]]:
    now = timezone.now().timestamp()
    hit = _tree_cache.get(tenant_id)
    if hit and now - hit[0] < TREE_TTL:
        return hit[1], hit[2]
    parents: dict[int, int | None] = {}
    slugs: dict[str, int] = {}
    for oid, parent_id, slug in OrgUnit.objects.filter(tenant_id=tenant_id).values_list("id", "parent_id", "slug"):
        parents[oid] = parent_id
        slugs[slug] = oid
    with _tree_lock:
        _tree_cache[tenant_id] = (now, parents, slugs)
    return parents, slugs


def invalidate_org_cache() -> None:
    with _tree_lock:
        _tree_cache.clear()
    _tenant_host_cache.clear()


def org_unit_id(tenant_id: int, slug: str | None) -> int | None:
    if not slug:
        return None
    return _org_tree(tenant_id)[1].get(slug)


def units_within(tenant_id: int, root_id: int | None) -> set[int] | None:
    """Ids of root_id and all units below it; None means: the whole tenant."""
    if root_id is None:
        return None
    parents, _ = _org_tree(tenant_id)
    out = set()
    for oid in parents:
        cur: int | None = oid
        seen = 0
        while cur is not None and seen < 64:
            if cur == root_id:
                out.add(oid)
                break
            cur = parents.get(cur)
            seen += 1
    return out


# roles that work across the organisation's units (Stadtkasse, Kämmerei, administration)
CROSS_UNIT_ROLES = frozenset({"admin", "treasury", "accounting"})


def readable_units(membership: Membership) -> set[int] | None:
    """The units whose cases and invoices the member may read (need to know): the member's unit and those
    below it; None means the whole tenant (cross-unit roles, or a member without a unit)."""
    if CROSS_UNIT_ROLES & set(membership.roles):
        return None
    return units_within(membership.tenant_id, membership.org_unit_id)


def covers_unit(membership: Membership, unit_id: int | None) -> bool:
    if membership.org_unit_id is None or unit_id is None:
        return True
    within = units_within(membership.tenant_id, membership.org_unit_id)
    return unit_id in within


def membership_for(user, tenant: Tenant) -> Membership:
    m = Membership.objects.filter(user=user, tenant=tenant).select_related("tenant").first()
    if m is None:
        raise Forbidden("Sie gehören nicht zu diesem Mandanten.")
    return m


def require_role(membership: Membership, *roles: str) -> None:
    if not any(r in membership.roles for r in roles):
        raise Forbidden("Dafür fehlt Ihnen die Rolle: " + " oder ".join(roles))


@transaction.atomic
def issue_token(username: str, tenant_slug: str | None = None, name: str = "") -> str:
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFound(f"Benutzer „{username}“ nicht gefunden.")
    memberships = Membership.objects.filter(user=user).select_related("tenant")
    if tenant_slug:
        memberships = memberships.filter(tenant__slug=tenant_slug)
    m = memberships.order_by("id").first()
    if m is None:
        raise NotFound(f"„{username}“ ist keinem Mandanten zugeordnet.")
    raw = ApiToken.generate()
    ApiToken.objects.create(user=user, tenant=m.tenant, name=name, key_hash=hash_token(raw), hint=raw[:8])
    return raw


def authenticate_token(raw: str):
    """(user, membership) for a valid bearer token, else None."""
    if not raw or not raw.startswith(ApiToken.PREFIX) or len(raw) > 100:
        return None
    tok = (
        ApiToken.objects.filter(key_hash=hash_token(raw), revoked_at__isnull=True)
        .select_related("user", "tenant")
        .first()
    )
    if tok is None or not tok.user.is_active:
        return None
    m = Membership.objects.filter(user_id=tok.user_id, tenant_id=tok.tenant_id).select_related("tenant").first()
    if m is None:
        return None
    return tok.user, m
