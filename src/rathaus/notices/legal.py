"""Rechtsbehelfsbelehrung (§ 58, § 70 VwGO) by Land of the tenant (first two digits of the AGS).

Which remedy applies depends on state law:
- Bayern (09): the Widerspruchsverfahren is abolished in most areas (Art. 12 Abs. 2 AGVwGO) – Klage
  beim Verwaltungsgericht; in some areas (e.g. Kommunalabgaben such as the Hundesteuer) it is optional
  (Art. 12 Abs. 1 AGVwGO): the addressee may choose Widerspruch or Klage. A service declares this with
  `fakultativer_widerspruch: true` in service.yaml.
- Nordrhein-Westfalen (05): largely abolished (§ 110 JustG NRW) – Klage.
- elsewhere: Widerspruch at the authority within one month (§ 70 VwGO), as the general rule.

DEMO TEXT: the courts below are placeholders for the fictional demo municipalities (AGS xx999999); a
municipality configures its court and has the text checked by its legal office before production use.
"""

from __future__ import annotations

LAND_BY_AGS = {
    "01": "SH", "02": "HH", "03": "NI", "04": "HB", "05": "NW", "06": "HE", "07": "RP", "08": "BW",
    "09": "BY", "10": "SL", "11": "BE", "12": "BB", "13": "MV", "14": "SN", "15": "ST", "16": "TH",
}

# Demo placeholders (the fictional Musterstadt lies in Bavaria, Beispielhausen in NRW).
DEMO_COURTS = {
    "BY": "Bayerischen Verwaltungsgericht München, Bayerstraße 30, 80335 München",
    "NW": "Verwaltungsgericht Arnsberg, Jägerstraße 1, 59821 Arnsberg",
}


def land_of(ags: str) -> str:
    return LAND_BY_AGS.get((ags or "")[:2], "")


def is_demo_tenant(ags: str) -> bool:
    return (ags or "").endswith("999999")


def court_of(tenant) -> str:
    return DEMO_COURTS.get(land_of(tenant.ags), "zuständigen Verwaltungsgericht")


def _authority(tenant) -> str:
    return f"{tenant.name}, {tenant.street}, {tenant.postal_code} {tenant.city}".strip(", ")


KLAGE_FORM = (
    "Die Klage ist schriftlich, zur Niederschrift des Urkundsbeamten der Geschäftsstelle dieses Gerichts "
    "oder elektronisch in einer für den Schriftformersatz zugelassenen Form (§ 55a VwGO) zu erheben. "
    "Sie muss den Kläger, den Beklagten ({beklagter}) und den Gegenstand des Klagebegehrens bezeichnen und "
    "soll einen bestimmten Antrag enthalten. Die zur Begründung dienenden Tatsachen und Beweismittel sollen "
    "angegeben, der angefochtene Bescheid soll in Urschrift oder in Abschrift beigefügt werden."
)
HINWEISE = (
    "Hinweise: Die Einlegung eines Rechtsbehelfs per einfacher E-Mail ist nicht zugelassen und entfaltet "
    "keine rechtlichen Wirkungen. Kraft Bundesrechts wird in Prozessverfahren vor den Verwaltungsgerichten "
    "infolge der Klageerhebung eine Verfahrensgebühr fällig."
)


def remedy_paragraphs(tenant, *, optional_objection: bool = False) -> list[str]:
    """Paragraphs of the Rechtsbehelfsbelehrung for a notice of this tenant."""
    land = land_of(tenant.ags)
    court = court_of(tenant)
    authority = _authority(tenant)
    paras: list[str]
    if land == "BY" and optional_objection:
        paras = [
            "Gegen diesen Bescheid kann innerhalb eines Monats nach seiner Bekanntgabe entweder Widerspruch "
            "eingelegt oder unmittelbar Klage erhoben werden (Art. 12 Abs. 1 AGVwGO).",
            f"Wenn Widerspruch eingelegt wird: Der Widerspruch ist bei der {authority}, schriftlich, in "
            "elektronischer Form nach § 3a Abs. 2 BayVwVfG oder zur Niederschrift einzulegen. Sollte über den "
            "Widerspruch ohne zureichenden Grund in angemessener Frist sachlich nicht entschieden werden, so "
            "kann Klage bei dem " + court + " erhoben werden (§ 75 VwGO).",
            f"Wenn unmittelbar Klage erhoben wird: Die Klage ist bei dem {court} zu erheben. "
            + KLAGE_FORM.format(beklagter=tenant.name),
            HINWEISE,
        ]
    elif land in ("BY", "NW"):
        basis = "Art. 12 Abs. 2 AGVwGO" if land == "BY" else "§ 110 JustG NRW"
        paras = [
            "Gegen diesen Bescheid kann innerhalb eines Monats nach seiner Bekanntgabe Klage bei dem "
            f"{court} erhoben werden. Ein Widerspruchsverfahren findet nicht statt ({basis}).",
            KLAGE_FORM.format(beklagter=tenant.name),
            HINWEISE,
        ]
    else:
        paras = [
            "Gegen diesen Bescheid kann innerhalb eines Monats nach seiner Bekanntgabe Widerspruch erhoben "
            f"werden. Der Widerspruch ist schriftlich, in elektronischer Form nach § 3a Abs. 2 VwVfG oder zur "
            f"Niederschrift bei der {authority} einzulegen (§ 70 VwGO).",
            "Hinweis: Die Einlegung des Widerspruchs per einfacher E-Mail ist nicht zugelassen und entfaltet "
            "keine rechtlichen Wirkungen.",
        ]
    if is_demo_tenant(tenant.ags):
        paras.append("(Muster-Rechtsbehelfsbelehrung der Demo-Kommune – vor Produktivnutzung durch das "
                     "Rechtsamt zu prüfen.)")
    return paras
