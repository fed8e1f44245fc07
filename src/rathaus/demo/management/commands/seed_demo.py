from django.core.management.base import BaseCommand

from rathaus.demo.seed import DEMO_PASSWORD, USERS, seed_demo


class Command(BaseCommand):
    help = "Legt die Demo-Kommune Musterstadt mit Benutzern und Leistungen an (wiederholbar)."

    def add_arguments(self, parser):
        parser.add_argument("--no-cases", action="store_true", help="keine Beispielanträge anlegen")

    def handle(self, *args, **opts):
        result = seed_demo(with_cases=not opts["no_cases"])
        for tslug, key, version, created in result["published"]:
            self.stdout.write(f"  Leistung {tslug}/{key} {version}: {'veröffentlicht' if created else 'vorhanden'}")
        for tslug, ref, code, created in result["cases"]:
            if created:
                self.stdout.write(f"  Beispielantrag {tslug}: {ref}  Zugangscode {code}")
        self.stdout.write("")
        self.stdout.write(f"Demo-Zugänge (Passwort für alle: {DEMO_PASSWORD}):")
        for username, _first, _last, tslug, unit, roles in USERS:
            self.stdout.write(f"  {username:20} {tslug:15} {unit or '-':15} {', '.join(roles)}")
