"""Validators for German public-sector identifiers, backed by schwifty and python-stdnum."""

import re

from django.core.exceptions import ValidationError
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum import iso7064
from stdnum.eu import at_02 as sepa_creditor_id

AGS_RE = re.compile(r"^\d{8}$")
LEITWEG_RE = re.compile(r"^(\d{2}|\d{3}|\d{5}|\d{8}|\d{9}|\d{12})(-[A-Za-z0-9]{1,30})?-(\d{2})$")


def validate_ags(value: str) -> None:
    """Amtlicher Gemeindeschlüssel: 8 digits, Land code 01-16."""
    if not AGS_RE.match(value or ""):
        raise ValidationError("Der Amtliche Gemeindeschlüssel besteht aus genau 8 Ziffern.", code="ags")
    if not 1 <= int(value[:2]) <= 16:
        raise ValidationError("Der Amtliche Gemeindeschlüssel beginnt mit einem Länderschlüssel 01-16.", code="ags")


def is_valid_iban(value: str) -> bool:
    try:
        IBAN(value)
    except (SchwiftyException, ValueError):
        return False
    return True


def validate_iban(value: str) -> None:
    if value and not is_valid_iban(value):
        raise ValidationError("Die IBAN ist ungültig (Prüfziffer oder Länge stimmt nicht).", code="iban")


def is_valid_bic(value: str) -> bool:
    try:
        BIC(value)
    except (SchwiftyException, ValueError):
        return False
    return True


def validate_bic(value: str) -> None:
    if value and not is_valid_bic(value):
        raise ValidationError("Die BIC ist ungültig.", code="bic")


def validate_creditor_id(value: str) -> None:
    if value and not sepa_creditor_id.is_valid(value):
        raise ValidationError("Die Gläubiger-Identifikationsnummer ist ungültig.", code="creditor_id")


def is_valid_leitweg_id(value: str) -> bool:
    """Leitweg-ID (KoSIT spec 2.0): Grobadressierung[-Feinadressierung]-Prüfziffer, ISO 7064 Mod 97-10."""
    m = LEITWEG_RE.match(value or "")
    if not m:
        return False
    body = value.rsplit("-", 1)[0].replace("-", "").upper()
    digits = "".join(str(int(c, 36)) for c in body) + m.group(3)
    return iso7064.mod_97_10.is_valid(digits)


def validate_leitweg_id(value: str) -> None:
    if value and not is_valid_leitweg_id(value):
        raise ValidationError("Die Leitweg-ID ist ungültig (Aufbau oder Prüfziffer).", code="leitweg_id")
