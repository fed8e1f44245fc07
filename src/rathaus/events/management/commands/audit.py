import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rathaus.events.services import (
    AnchorFormatError,
    parse_anchors,
    take_anchors,
    verify_anchors,
    verify_chain,
)
from rathaus.tenants.models import Tenant


class Command(BaseCommand):
    help = ("Protokoll (Hash-Kette): 'verify' prüft die Kette (mit --anchors zusätzlich gegen früher "
            "festgehaltene Anker), 'anchor' gibt den aktuellen Stand jeder Kette als Anker aus (JSON-Zeilen; "
            "mit --append an eine Datei angehängt), zur Ablage außerhalb der Datenbank.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify", "anchor"])
        parser.add_argument("--tenant", default=None, help="nur dieser Mandant (Kurzname)")
        parser.add_argument("--anchors", default=None, metavar="DATEI",
                            help="verify: Ankerdatei (JSON-Zeilen von 'audit anchor'); '-' liest von stdin")
        parser.add_argument("--append", default=None, metavar="DATEI",
                            help="anchor: die Anker zusätzlich an diese Datei anhängen")

    def handle(self, *args, **opts):
        tenants = Tenant.objects.order_by("slug")
        if opts["tenant"]:
            tenants = tenants.filter(slug=opts["tenant"])
            if not tenants.exists():
                raise CommandError(f"Unbekannter Mandant: {opts['tenant']}")
        tenants = list(tenants)
        if opts["action"] == "anchor":
            return self.anchor(tenants, opts["append"])
        anchors = self.read_anchors(opts["anchors"]) if opts["anchors"] else None
        bad = 0
        for t in tenants:
            r = verify_chain(t)
            if not r.ok:
                bad += 1
                self.stderr.write(f"{t.slug}: FEHLER nach {r.entries} Einträgen: {r.error}")
                continue
            line = f"{t.slug}: {r.entries} Einträge, Kette unversehrt"
            if anchors is not None:
                a = verify_anchors(t, anchors)
                if not a.ok:
                    bad += 1
                    self.stderr.write(f"{t.slug}: FEHLER: {r.entries} Einträge in sich schlüssig, aber {a.error}")
                    continue
                line += (", keine Anker für diesen Mandanten" if not a.entries
                         else ", 1 Anker passt" if a.entries == 1 else f", {a.entries} Anker passen")
            self.stdout.write(line)
        if bad:
            raise CommandError("Protokollkette verletzt")

    def anchor(self, tenants, append):
        lines = [a.as_json() for a in take_anchors(tenants)]
        if append:
            try:
                with open(append, "a", encoding="utf-8") as f:
                    f.write("".join(line + "\n" for line in lines))
                    f.flush()
                    os.fsync(f.fileno())
            except OSError as e:
                raise CommandError(f"Ankerdatei {append}: {e.strerror or e}") from None
        for line in lines:
            self.stdout.write(line)

    def read_anchors(self, name):
        try:
            text = sys.stdin.read() if name == "-" else Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CommandError(f"Ankerdatei {name}: {getattr(e, 'strerror', None) or e}") from None
        try:
            return parse_anchors(text.splitlines())
        except AnchorFormatError as e:
            raise CommandError(f"Ankerdatei {name}, {e}") from None
