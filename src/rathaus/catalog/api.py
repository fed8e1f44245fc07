"""Public catalog API: which services exist and their form schemas."""

from __future__ import annotations

from ninja import Router, Schema

from rathaus.core.errors import NotFound
from rathaus.core.web import clean_key
from rathaus.tenants.web import api_tenant

from .services import active_services, get_active_service, is_public

router = Router(tags=["Leistungen"])


class ServiceOut(Schema):
    key: str
    name: str
    name_en: str = ""
    description: str = ""
    version: str
    leika: str = ""
    processing_days: int
    attachments: list[dict] = []


class ServiceDetailOut(ServiceOut):
    form_schema: dict


def service_out(service, detail: bool = False) -> dict:
    sv = service.current_version
    out = {
        "key": service.key, "name": sv.name, "name_en": sv.name_en, "description": sv.description,
        "version": sv.version, "leika": sv.leika, "processing_days": sv.processing_days,
        "attachments": sv.attachments,
    }
    if detail:
        out["form_schema"] = sv.form_schema
    return out


@router.get("/services", response=list[ServiceOut], summary="Leistungen des Mandanten")
def list_services(request, tenant: str | None = None):
    return [service_out(s) for s in active_services(api_tenant(request, tenant)) if is_public(s.current_version)]


@router.get("/services/{key}", response=ServiceDetailOut, summary="Eine Leistung mit Formular-Schema")
def get_service(request, key: str, tenant: str | None = None):
    t = api_tenant(request, tenant)
    s = get_active_service(t, key) if clean_key(key, 100) else None
    if s is None or not is_public(s.current_version):
        raise NotFound(f"Die Leistung „{key}“ gibt es nicht.")
    return service_out(s, detail=True)
