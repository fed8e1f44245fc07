"""Tenants (Kommunen), their organisation units and the people working in them."""

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from rathaus.core.validators import (
    validate_ags,
    validate_bic,
    validate_creditor_id,
    validate_iban,
    validate_leitweg_id,
)


class Role(models.TextChoices):
    CLERK = "clerk", "Sachbearbeitung"
    APPROVER = "approver", "Leitung / Zeichnungsbefugnis"
    TREASURY = "treasury", "Stadtkasse"
    ACCOUNTING = "accounting", "Kämmerei"
    ADMIN = "admin", "Administration"


ROLE_VALUES = frozenset(Role.values)


class Tenant(models.Model):
    slug = models.SlugField(unique=True)
    name = models.CharField("Name", max_length=200)
    ags = models.CharField("Amtlicher Gemeindeschlüssel", max_length=8, validators=[validate_ags])
    street = models.CharField("Straße und Hausnummer", max_length=200, blank=True)
    postal_code = models.CharField("PLZ", max_length=5, blank=True)
    city = models.CharField("Ort", max_length=100, blank=True)
    email = models.EmailField("E-Mail", blank=True)
    phone = models.CharField("Telefon", max_length=50, blank=True)
    website = models.URLField("Website", blank=True)
    leitweg_id = models.CharField("Leitweg-ID", max_length=46, blank=True, validators=[validate_leitweg_id])
    bank_name = models.CharField("Bank", max_length=100, blank=True)
    iban = models.CharField("IBAN", max_length=34, blank=True, validators=[validate_iban])
    bic = models.CharField("BIC", max_length=11, blank=True, validators=[validate_bic])
    creditor_id = models.CharField(
        "Gläubiger-Identifikationsnummer", max_length=35, blank=True, validators=[validate_creditor_id]
    )
    hostnames = models.JSONField("Hostnamen", default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "Mandant (Kommune)"
        verbose_name_plural = "Mandanten (Kommunen)"
        ordering = ["name"]

    def __str__(self):
        return self.name


class OrgUnit(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="org_units")
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    slug = models.SlugField()
    name = models.CharField(max_length=200)

    class Meta:
        verbose_name = "Organisationseinheit"
        verbose_name_plural = "Organisationseinheiten"
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="orgunit_unique_slug")]
        ordering = ["name"]

    def __str__(self):
        return self.name

    def clean(self):
        if self.parent_id and self.parent.tenant_id != self.tenant_id:
            raise ValidationError({"parent": "Die übergeordnete Einheit gehört zu einem anderen Mandanten."})


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    org_unit = models.ForeignKey(OrgUnit, on_delete=models.PROTECT, null=True, blank=True)
    roles = models.JSONField(default=list)

    class Meta:
        verbose_name = "Mitgliedschaft"
        verbose_name_plural = "Mitgliedschaften"
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="membership_unique_user_tenant")]

    def __str__(self):
        return f"{self.user} @ {self.tenant}: {', '.join(self.roles)}"

    def clean(self):
        unknown = set(self.roles) - ROLE_VALUES
        if unknown:
            raise ValidationError({"roles": f"Unbekannte Rollen: {', '.join(sorted(unknown))}"})
        if self.org_unit_id and self.org_unit.tenant_id != self.tenant_id:
            raise ValidationError({"org_unit": "Die Organisationseinheit gehört zu einem anderen Mandanten."})

    def has_role(self, role: str) -> bool:
        return role in self.roles


def hash_token(raw: str) -> str:
    # API tokens are 256-bit random values: a plain SHA-256 is the right hash for them
    # (passwords, being guessable, use argon2).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiToken(models.Model):
    PREFIX = "rh_"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=12)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API-Token"
        verbose_name_plural = "API-Tokens"

    def __str__(self):
        return f"{self.hint}… ({self.user})"

    @classmethod
    def generate(cls) -> str:
        return cls.PREFIX + secrets.token_urlsafe(32)


class ReferenceCounter(models.Model):
    """Gap-free sequence per tenant, prefix and year (row-locked increment); see `tenants.numbering`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE)
    prefix = models.CharField(max_length=10)
    year = models.PositiveIntegerField()
    value = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "prefix", "year"], name="reference_counter_unique")
        ]

    def __str__(self):
        return f"{self.prefix}-{self.year}: {self.value}"
