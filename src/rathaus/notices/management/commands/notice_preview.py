"""`rathaus notice-preview DIR`: render a package's notice.typ with sample data (no database needed)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Bescheid-Vorlage (notice.typ) eines Leistungspakets mit Beispieldaten als PDF/A ausgeben."

    def add_arguments(self, parser):
        parser.add_argument("package", help="Ordner des Leistungspakets")
        parser.add_argument("--decision", choices=["approve", "reject"], default="approve")
        parser.add_argument("--example", type=int, default=1, help="Nummer des Formular-Beispiels (ab 1)")
        parser.add_argument("--data", help="eigene Daten (JSON-Datei) statt der Beispieldaten")
        parser.add_argument("--print-data", action="store_true", help="nur die Daten (JSON) ausgeben")
        parser.add_argument("-o", "--output", help="PDF-Datei (Standard: notice-<decision>.pdf)")

    def handle(self, *args, **opts):
        from rathaus.notices.services import RenderError, render_pdf, sample_notice_data

        root = Path(opts["package"])
        tpl_path = root / "notice.typ"
        if not tpl_path.exists():
            raise CommandError(f"{tpl_path} fehlt")
        if opts["data"]:
            data = json.loads(Path(opts["data"]).read_text(encoding="utf-8"))
        else:
            schema = json.loads((root / "form.schema.json").read_text(encoding="utf-8"))
            examples = schema.get("examples") or [{}]
            if not 1 <= opts["example"] <= len(examples):
                raise CommandError(f"Beispiel {opts['example']} gibt es nicht (1–{len(examples)})")
            data = sample_notice_data(examples[opts["example"] - 1], opts["decision"])
        if opts["print_data"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str))
            return
        try:
            pdf = render_pdf(("preview", str(tpl_path.resolve())), tpl_path.read_text(encoding="utf-8"), data)
        except RenderError as e:
            raise CommandError(f"{tpl_path}: {e}") from e
        out = Path(opts["output"] or f"notice-{opts['decision']}.pdf")
        out.write_bytes(pdf)
        self.stdout.write(f"{out}: {len(pdf)} Bytes, PDF/A-2a")
