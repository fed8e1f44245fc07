"""rathaus import-camt FILE... : import camt.053 bank statements for a tenant (as the treasury)."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from rathaus.core.errors import DomainError
from rathaus.finance.bank.importer import import_bank_statement
from rathaus.tenants.models import Tenant


class Command(BaseCommand):
    help = "Kontoauszüge (camt.053) einlesen, Zahlungen zuordnen und buchen."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", type=Path)
        parser.add_argument("--tenant", default=None, help="Mandant (Slug); Standard: RATHAUS_DEFAULT_TENANT")
        parser.add_argument("--actor", default="import-camt", help="wer einliest (für Audit und Buchungen)")

    def handle(self, files, tenant, actor, **opts):
        slug = tenant or settings.RATHAUS_DEFAULT_TENANT
        t = Tenant.objects.filter(slug=slug).first()
        if t is None:
            raise CommandError(f"Mandant {slug!r} unbekannt.")
        failed = 0
        for path in files:
            if not path.is_file():
                self.stderr.write(f"{path}: Datei nicht gefunden")
                failed += 1
                continue
            try:
                with path.open("rb") as fh:
                    r = import_bank_statement(t, fh, actor=actor, filename=path.name)
            except DomainError as e:
                self.stderr.write(f"{path}: {e.detail}")
                failed += 1
                continue
            # labelled counts (as on the statements page): "1 Umsätze" would be wrong in the singular
            self.stdout.write(f"{path}: Umsätze: {r.entries}, zugeordnet: {r.matched}, Klärfälle: {r.unmatched}, "
                              f"Dubletten: {r.duplicates}, nicht gebucht (vorgemerkt): {r.skipped}")
        if failed:
            raise CommandError(f"{failed} Datei(en) nicht eingelesen.")
