"""E-invoice validation over the API: a supplier's pre-check, nothing is stored."""

from __future__ import annotations

from typing import Literal

from ninja import Query, Router, Schema
from pydantic import Field

from rathaus.core.web import read_limited_body

from .validation import validate_invoice
from .xmlsafe import check_content_type, max_bytes

router = Router(tags=["E-Rechnung"])


class FindingOut(Schema):
    rule: str = Field(description="Offizielle Regelkennung, z. B. `BR-CO-15`, `BR-DE-15`, `XSD`")
    message: str = Field(description="Meldung auf Deutsch")
    location: str = Field(description="XPath des betroffenen Elements")
    level: str = Field(description="Prüfstufe: `xsd`, `en16931`, `xrechnung`")
    flag: str = Field(description="Schwere laut Regelwerk: `fatal`, `error`, `warning`, `information`")
    source: str = Field(description="Herkunft der Regel: `xsd`, `cen`, `kosit`, `native`")
    text: str = Field("", description="Originaltext der Regel (bei CEN englisch)")


class ValidationOut(Schema):
    valid: bool = Field(description="Keine Fehler (`fatal`/`error`) auf den ausgeführten Stufen")
    syntax: Literal["UBL", "CII"]
    document_type: Literal["invoice", "credit_note"]
    customization_id: str = Field(description="Spezifikationskennung (BT-24)")
    errors: list[FindingOut]
    warnings: list[FindingOut]
    information: list[FindingOut] = Field(description="Von KoSIT auf `information` herabgestufte Befunde")
    levels_run: list[str] = Field(description="Ausgeführte (und übersprungene) Prüfstufen")
    timings: dict[str, float] = Field(description="Dauer je Stufe in Millisekunden")
    scenario: str = Field(description="`xrechnung-standard`, `xrechnung-extension`, `xrechnung-cvd` oder `en16931`")
    artifacts: dict[str, str] = Field(description="Verwendete Regelwerke und Versionen")

    model_config = {"json_schema_extra": {"examples": [{
        "valid": False, "syntax": "UBL", "document_type": "invoice",
        "customization_id": "urn:cen.eu:en16931:2017#compliant#urn:xeinkauf.de:kosit:xrechnung_3.0",
        "errors": [{
            "rule": "BR-CO-15",
            "message": "Der Gesamtbetrag einschließlich Umsatzsteuer (BT-112) muss dem Gesamtbetrag ohne "
                       "Umsatzsteuer (BT-109) zuzüglich des Umsatzsteuer-Gesamtbetrags (BT-110) entsprechen.",
            "location": "/ubl:Invoice[1]", "level": "en16931", "flag": "fatal", "source": "cen",
            "text": "Invoice total amount with VAT (BT-112) = Invoice total amount without VAT (BT-109) + "
                    "Invoice total VAT amount (BT-110).",
        }],
        "warnings": [], "information": [],
        "levels_run": ["xml", "xsd", "en16931", "xrechnung (native)"],
        "timings": {"xml": 0.2, "xsd": 0.3, "en16931": 4.1, "xrechnung_native": 0.9},
        "scenario": "xrechnung-standard",
        "artifacts": {"en16931": "CEN EN 16931 Schematron 1.3.16", "xsd": "UBL 2.1 (OASIS)",
                      "xrechnung": "native BR-DE-Regeln (rathaus)"},
    }]}}


_PROBLEM = {"application/problem+json": {"schema": {"type": "object", "properties": {
    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"}, "instance": {"type": "string"}}}}}
_XML_BODY = {
    "required": True,
    "description": "Die E-Rechnung als XML (UBL 2.1 Invoice/CreditNote oder UN/CEFACT CII D16B), "
                   "höchstens `RATHAUS_MAX_EINVOICE_BYTES` (Standard 20 MB). DOCTYPE/DTD und Entitäten "
                   "werden abgelehnt.",
    "content": {ct: {"schema": {"type": "string", "format": "binary"}} for ct in ("application/xml", "text/xml")},
}


@router.post(
    "/einvoices/validate", response=ValidationOut, summary="E-Rechnung prüfen (ohne Speichern)",
    description=(
        "Prüft eine E-Rechnung wie der offizielle KoSIT-Validator: XML-Wohlgeformtheit → XML-Schema "
        "(UBL 2.1 bzw. CII D16B) → Geschäftsregeln der EN 16931 (CEN-Schematron `BR-*`, `BR-CO-*`, "
        "`BR-CL-*` …) → XRechnung-Regeln (`BR-DE-*`, nur bei XRechnung 3.0 laut BT-24). Nichts wird "
        "gespeichert; keine Anmeldung nötig. `?levels=rules` überspringt das XML-Schema und wertet nur die "
        "Geschäftsregeln aus (wie die Regel-Unit-Tests der CEN). Eine fehlerhafte Rechnung wird mit "
        "`200` und `valid: false` beantwortet; kein XML → `400`, zu groß → `413`, falscher Inhaltstyp → "
        "`415`, DOCTYPE/Entitäten oder unbekanntes Wurzelelement → `422` (problem+json)."
    ),
    openapi_extra={"requestBody": _XML_BODY, "responses": {
        s: {"description": d, "content": _PROBLEM} for s, d in (
            (400, "Kein (wohlgeformtes) XML"), (413, "Zu groß"), (415, "Kein XML-Inhaltstyp"),
            (422, "DOCTYPE/Entitäten oder keine unterstützte Rechnung"))}},
)
def validate(request, levels: Query[Literal["all", "rules"]] = "all"):
    check_content_type(request.content_type)
    limit = max_bytes()
    body, _ = read_limited_body(request, limit, f"Die Rechnung darf höchstens {limit // (1024 * 1024)} MB groß sein.")
    with body:
        xml = body.read()
    return validate_invoice(xml, levels=levels).as_dict()
