from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from rathaus.catalog.services import PackageError, publish_package, validate_package
from rathaus.tenants.models import Tenant
from rathaus.tenants.services import invalidate_org_cache


class Command(BaseCommand):
    help = "Leistungspakete prüfen (validate) oder veröffentlichen (load)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["validate", "load"])
        parser.add_argument("dirs", nargs="+", help="Paketordner oder Ordner mit Paketordnern")
        parser.add_argument("--tenant", default=None, help="Mandant (Slug) für load; Standard: RATHAUS_DEFAULT_TENANT")

    def _packages(self, dirs):
        for d in dirs:
            p = Path(d)
            if (p / "service.yaml").exists():
                yield p
            elif p.is_dir():
                found = sorted(x for x in p.iterdir() if (x / "service.yaml").exists())
                if not found:
                    yield p  # reported as a problem
                yield from found
            else:
                yield p

    def handle(self, *args, **opts):
        failed = 0
        if opts["action"] == "validate":
            for pkg in self._packages(opts["dirs"]):
                problems = validate_package(pkg)
                if problems:
                    failed += 1
                    for pr in problems:
                        self.stderr.write(f"{pkg}/{pr}")
                else:
                    self.stdout.write(f"{pkg}: in Ordnung")
        else:
            from django.conf import settings

            slug = opts["tenant"] or settings.RATHAUS_DEFAULT_TENANT
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                raise CommandError(f"Mandant „{slug}“ nicht gefunden")
            invalidate_org_cache()
            for pkg in self._packages(opts["dirs"]):
                try:
                    sv, created = publish_package(pkg, tenant=tenant, actor="cli")
                except PackageError as e:
                    failed += 1
                    for pr in e.problems:
                        self.stderr.write(f"{pkg}/{pr}")
                    continue
                state = "veröffentlicht" if created else "unverändert"
                self.stdout.write(f"{sv.service.key} {sv.version}: {state} ({tenant.slug})")
        if failed:
            raise CommandError(f"{failed} Paket(e) fehlerhaft")
