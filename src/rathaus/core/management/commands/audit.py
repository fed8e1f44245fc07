from django.core.management.base import BaseCommand, CommandError

from rathaus.events.services import verify_chain
from rathaus.tenants.models import Tenant


class Command(BaseCommand):
    help = "Prüft die Hash-Kette des Protokolls (audit verify)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])
        parser.add_argument("--tenant", default=None)

    def handle(self, *args, **opts):
        tenants = Tenant.objects.all()
        if opts["tenant"]:
            tenants = tenants.filter(slug=opts["tenant"])
        bad = 0
        for t in tenants:
            r = verify_chain(t)
            if r.ok:
                self.stdout.write(f"{t.slug}: {r.entries} Einträge, Kette unversehrt")
            else:
                bad += 1
                self.stderr.write(f"{t.slug}: FEHLER nach {r.entries} Einträgen: {r.error}")
        if bad:
            raise CommandError("Protokollkette verletzt")
