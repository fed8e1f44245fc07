"""`rathaus` console script: Django's management commands plus ours (hyphenated names allowed)."""

import os
import sys

ALIASES = {"seed-demo": "seed_demo", "import-camt": "import_camt", "notice-preview": "notice_preview",
           "notice-reissue": "notice_reissue"}


def main(argv=None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rathaus.settings")
    argv = list(sys.argv if argv is None else argv)
    if len(argv) > 1:
        argv[1] = ALIASES.get(argv[1], argv[1])
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)
