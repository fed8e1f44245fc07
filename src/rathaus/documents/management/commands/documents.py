import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from rathaus.documents.services import verify_documents
from rathaus.tenants.models import Tenant


class Command(BaseCommand):
    help = ("E-Akte: 'verify' liest jedes gespeicherte Dokument zurück und vergleicht Größe und SHA-256 mit dem "
            "Eintrag (fehlende oder veränderte Dateien). Exit-Code 1 bei Befunden.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])
        parser.add_argument("--tenant", default=None, help="nur dieser Mandant (Kurzname)")
        parser.add_argument("--since", default=None, metavar="JJJJ-MM-TT", help="nur Dokumente ab diesem Tag")

    def handle(self, *args, **opts):
        tenant = None
        if opts["tenant"]:
            tenant = Tenant.objects.filter(slug=opts["tenant"]).first()
            if tenant is None:
                raise CommandError(f"Unbekannter Mandant: {opts['tenant']}")
        since = None
        if opts["since"]:
            try:
                since = dt.date.fromisoformat(opts["since"])
            except ValueError:
                raise CommandError(f"--since: kein Datum (JJJJ-MM-TT): {opts['since']}") from None
        report = verify_documents(tenant=tenant, since=since)
        for p in report.problems:
            where = f"{p.tenant} {p.case}".strip()
            self.stderr.write(f"Dokument {p.document_id} ({where}, „{p.title}“, {p.path}): {p.problem}")
        mb = report.bytes / 1024 / 1024
        if report.problems:
            raise CommandError(f"{report.checked} Dokumente geprüft, {report.found} mit Befund")
        self.stdout.write(f"{report.checked} Dokumente geprüft ({mb:.1f} MB), alle unversehrt")
