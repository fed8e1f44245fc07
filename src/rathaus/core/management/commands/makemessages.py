"""`rathaus makemessages`: Django's, plus the `_noop` alias of gettext_noop (docs/i18n.md).

German texts that are stored or shared with the API stay German where they are written and are only marked
as msgids there (`from django.utils.translation import gettext_noop as _noop`); the web pages translate them
when they show them. xgettext knows `gettext_noop` but not the alias, so it is added as a keyword here.
"""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_noop"]
