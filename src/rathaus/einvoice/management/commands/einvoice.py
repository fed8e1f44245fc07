"""`rathaus einvoice rules install|list|remove` and `rathaus einvoice validate FILE...`."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rathaus.core.errors import DomainError
from rathaus.einvoice import artifacts
from rathaus.einvoice.validation import validate_invoice
from rathaus.einvoice.xmlsafe import XmlRefused
from rathaus.tenants.models import Tenant


class Command(BaseCommand):
    help = "E-Rechnungen: KoSIT-Regelwerke verwalten (rules install|list|remove) und Rechnungen prüfen (validate)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        rules = sub.add_parser("rules", help="KoSIT-XRechnung-Artefakte verwalten")
        rsub = rules.add_subparsers(dest="rules_action", required=True)
        inst = rsub.add_parser("install", help="validator-configuration-xrechnung (ZIP oder Ordner) installieren")
        inst.add_argument("path")
        rsub.add_parser("list", help="installierte Regelwerke anzeigen")
        rm = rsub.add_parser("remove", help="ein installiertes Regelwerk entfernen")
        rm.add_argument("version")
        val = sub.add_parser("validate", help="E-Rechnungen prüfen und den Bericht ausgeben")
        val.add_argument("files", nargs="+")
        val.add_argument("--levels", choices=["all", "rules"], default="all")
        val.add_argument("--json", action="store_true", help="Bericht als JSON")
        imp = sub.add_parser("import", help="E-Rechnungen empfangen (ablegen, prüfen, zuordnen, Prüfvorgang)")
        imp.add_argument("files", nargs="+")
        imp.add_argument("--tenant", default=None, help="Mandant (Slug); Standard: RATHAUS_DEFAULT_TENANT")
        imp.add_argument("--actor", default="einvoice-import")

    def handle(self, *args, **opts):
        if opts["action"] == "rules":
            return self._rules(opts)
        if opts["action"] == "import":
            return self._import(opts)
        return self._validate(opts)

    def _import(self, opts):
        """Batch receipt: every file is stored first, then processed; one bad file does not stop the batch."""
        from pathlib import Path

        from django.conf import settings

        from rathaus.einvoice.models import InvoiceStatus
        from rathaus.einvoice.services import receive_invoice

        slug = opts["tenant"] or settings.RATHAUS_DEFAULT_TENANT
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"Mandant {slug!r} unbekannt.")
        failed = 0
        for name in opts["files"]:
            path = Path(name)
            if not path.is_file():
                self.stderr.write(f"{path}: Datei nicht gefunden")
                failed += 1
                continue
            try:
                inv = receive_invoice(tenant, path.read_bytes(), actor=opts["actor"], channel="cli",
                                      filename=path.name)
            except DomainError as e:
                self.stderr.write(f"{path}: abgewiesen (protokolliert): {e.detail}")
                failed += 1
                continue
            extra = f", Vorgang {inv.case.reference}" if inv.case_id else ""
            self.stdout.write(f"{path}: Eingang {inv.pk}, {InvoiceStatus(inv.status).label}"
                              f"{f' ({len(inv.errors)} Fehler)' if inv.errors else ''}{extra}")
        if failed:
            raise CommandError(f"{failed} Datei(en) abgewiesen.")

    def _rules(self, opts):
        action = opts["rules_action"]
        try:
            if action == "install":
                r = artifacts.install(opts["path"])
                self.stdout.write(f"installiert: XRechnung {r.version} ({r.name}) nach {r.path}")
                for syntax, p in sorted(r.xsl.items()):
                    self.stdout.write(f"  {syntax}: {p.relative_to(r.path)}")
            elif action == "remove":
                artifacts.remove(opts["version"])
                self.stdout.write(f"entfernt: {opts['version']}")
            else:
                found = artifacts.installed()
                if not found:
                    self.stdout.write(f"keine KoSIT-Regelwerke installiert ({artifacts.rules_dir()})")
                active = artifacts.active()
                for r in found:
                    mark = "*" if active is not None and r.path == active.path else " "
                    bad = artifacts.verify(r)
                    state = "in Ordnung" if not bad else f"VERÄNDERT: {', '.join(bad)}"
                    self.stdout.write(f"{mark} {r.version}  installiert {r.installed_at}  {r.name}  ({state})")
        except artifacts.RulesError as e:
            raise CommandError(e.detail) from e

    def _validate(self, opts):
        invalid = 0
        for name in opts["files"]:
            path = Path(name)
            try:
                data = path.read_bytes()
            except OSError as e:
                raise CommandError(f"{name}: {e}") from e
            try:
                report = validate_invoice(data, levels=opts["levels"], name=name)
            except XmlRefused as e:
                invalid += 1
                self.stderr.write(f"{name}: abgelehnt ({e.status}): {e.detail}")
                continue
            if opts["json"]:
                self.stdout.write(json.dumps({"file": name, **report.as_dict()}, ensure_ascii=False, indent=2))
            else:
                state = "gültig" if report.valid else "UNGÜLTIG"
                self.stdout.write(f"{name}: {state} ({report.syntax}, {report.document_type}, {report.scenario}; "
                                  f"{len(report.errors)} Fehler, {len(report.warnings)} Warnungen)")
                for f in report.errors:
                    self.stdout.write(f"  FEHLER  {f.rule} [{f.level}/{f.source}] {f.message}\n          {f.location}")
                for f in report.warnings:
                    self.stdout.write(f"  WARNUNG {f.rule} [{f.level}/{f.source}] {f.message}\n          {f.location}")
                self.stdout.write(f"  Stufen: {'; '.join(report.levels_run)}")
            if not report.valid:
                invalid += 1
        if invalid:
            raise CommandError(f"{invalid} von {len(opts['files'])} Rechnungen ungültig oder abgelehnt")
