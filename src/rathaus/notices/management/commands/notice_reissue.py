"""`rathaus notice-reissue REFERENCE --tenant SLUG [--current-template]`: issue a notice again after an
incident (e.g. after publishing a fixed notice.typ)."""

from django.core.management.base import BaseCommand, CommandError

from rathaus.cases.models import Case


class Command(BaseCommand):
    help = "Bescheid eines entschiedenen Vorgangs erneut erstellen (nach einer Störung der Vorlage)."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="Aktenzeichen")
        parser.add_argument("--tenant", required=True, help="Mandant (slug)")
        parser.add_argument("--current-template", action="store_true",
                            help="Vorlage der aktuell veröffentlichten Version der Leistung verwenden")

    def handle(self, *args, **opts):
        from rathaus.notices.services import NoticeError, RenderError, reissue_notice

        case = Case.objects.filter(tenant__slug=opts["tenant"], reference=opts["reference"].upper()).first()
        if case is None:
            raise CommandError("Vorgang nicht gefunden.")
        try:
            doc = reissue_notice(case, actor="admin-cli", use_current_template=opts["current_template"])
        except (NoticeError, RenderError) as e:
            raise CommandError(str(e)) from e
        self.stdout.write(f"{case.reference}: {doc.title} erstellt (Dokument {doc.pk}, SHA-256 {doc.sha256}).")
