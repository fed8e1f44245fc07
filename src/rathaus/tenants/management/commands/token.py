from django.core.management.base import BaseCommand, CommandError

from rathaus.core.errors import DomainError
from rathaus.tenants.services import issue_token


class Command(BaseCommand):
    help = "Erzeugt ein neues API-Token für einen Benutzer und gibt es aus."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--tenant", default=None, help="Mandant (Slug), falls der Benutzer mehreren angehört")
        parser.add_argument("--name", default="", help="Bezeichnung des Tokens")

    def handle(self, *args, **opts):
        try:
            raw = issue_token(opts["username"], opts["tenant"], opts["name"])
        except DomainError as e:
            raise CommandError(e.detail) from e
        self.stdout.write(raw)
