"""`rathaus ledger load-chart|close-period|open-period|trial-balance`: Kontenplan laden, Perioden
schließen, Summen- und Saldenliste ausgeben."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rathaus.core.errors import DomainError
from rathaus.ledger import chart, reports, services
from rathaus.ledger.templatetags.ledger_tags import format_euro
from rathaus.tenants.models import Tenant


class Command(BaseCommand):
    help = "Doppik: Kontenplan laden, Buchungsperioden schließen/öffnen, Summen- und Saldenliste."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("load-chart", help="Kontenrahmen/Produktrahmen (YAML) laden (idempotent)")
        p.add_argument("--tenant", default=None, help="Mandant (Slug); ohne: alle Mandanten")
        p.add_argument("file", nargs="?", default=str(chart.DEFAULT_CHART), help="YAML-Datei (Standard: NKF NRW)")
        for name, text in (("close-period", "Buchungsperiode schließen"), ("open-period", "Buchungsperiode öffnen")):
            p = sub.add_parser(name, help=f"{text} (ohne MONAT: das ganze Haushaltsjahr)")
            p.add_argument("--tenant", required=True)
            p.add_argument("year", type=int)
            p.add_argument("month", type=int, nargs="?", default=0)
        p = sub.add_parser("trial-balance", help="Summen- und Saldenliste ausgeben")
        p.add_argument("--tenant", required=True)
        p.add_argument("year", type=int)

    def _tenant(self, slug):
        t = Tenant.objects.filter(slug=slug).first()
        if t is None:
            raise CommandError(f"Mandant „{slug}“ nicht gefunden.")
        return t

    def handle(self, *args, **opts):
        action = opts["action"]
        try:
            if action == "load-chart":
                return self._load(opts)
            if action in ("close-period", "open-period"):
                t = self._tenant(opts["tenant"])
                closed = action == "close-period"
                p = services.set_period_closed(t, opts["year"], opts["month"], closed=closed, actor="cli")
                what = f"{p.year}" if p.month == 0 else f"{p.month:02d}/{p.year}"
                self.stdout.write(f"{t.slug}: Periode {what} {'geschlossen' if closed else 'geöffnet'}")
                return None
            if action == "trial-balance":
                return self._trial_balance(opts)
        except DomainError as e:
            raise CommandError(e.detail) from e
        return None

    def _load(self, opts):
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"Datei {path} nicht gefunden.")
        tenants = [self._tenant(opts["tenant"])] if opts["tenant"] else list(Tenant.objects.all())
        for t in tenants:
            try:
                counts = chart.load_chart(t, path)
            except (KeyError, ValueError, TypeError) as e:
                raise CommandError(f"{path}: ungültiger Kontenplan ({e})") from e
            self.stdout.write(f"{t.slug}: {counts['accounts']} Sachkonten, {counts['groups']} Kontengruppen/-arten, "
                              f"{counts['products']} Produkte, {counts['product_groups']} Produktbereiche/-gruppen, "
                              f"{counts['cost_centres']} Kostenstellen geladen")

    def _trial_balance(self, opts):
        t = self._tenant(opts["tenant"])
        tb = reports.trial_balance(t, opts["year"])
        self.stdout.write(f"Summen- und Saldenliste {opts['year']} – {t.name}")
        self.stdout.write(f"{'Konto':<9}{'Bezeichnung':<48}{'Soll':>18}{'Haben':>18}{'Saldo':>18}")
        for r in tb["rows"]:
            self.stdout.write(f"{r['account']:<9}{r['name'][:46]:<48}{format_euro(r['debit']):>18}"
                              f"{format_euro(r['credit']):>18}{format_euro(r['balance']):>18}")
        tot = tb["totals"]
        self.stdout.write(f"{'Summe':<57}{format_euro(tot['debit']):>18}{format_euro(tot['credit']):>18}"
                          f"{format_euro(tot['balance']):>18}")
        if not tb["balanced"]:
            raise CommandError("Soll und Haben stimmen nicht überein.")
