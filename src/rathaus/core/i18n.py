"""The web UI speaks German first, English second (docs/i18n.md).

German is the source language: every msgid is the German text, so German needs no catalog and stays the
default (no cookie, no or an unsupported Accept-Language). `locale/en/LC_MESSAGES/django.po` holds the
English translations.

Not translated, by design: the API (documented as German; `LocaleMiddleware` below answers every API
request in German), everything written down (case histories, notices, receipts and other PDFs, journal
texts are records in German) and the municipal content of the service packages (form titles, hints,
notice templates). Model choice labels therefore stay plain German strings in the models (marked with
`gettext_noop` so they are extracted); the web pages translate them when they show them (`choice_label`).
"""

from __future__ import annotations

from django.conf import settings
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.utils import translation
from django.utils.translation import gettext

API_PREFIX = "/api/"


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's language choice (the language switch's cookie, then Accept-Language, else German) for the web
    pages; the API always answers in German, whatever a client's Accept-Language says."""

    def process_request(self, request):
        if request.path_info.startswith(API_PREFIX):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return None
        return super().process_request(request)

    def process_response(self, request, response):
        if request.path_info.startswith(API_PREFIX):
            response.headers.setdefault("Content-Language", settings.LANGUAGE_CODE)
            return response
        return super().process_response(request, response)


def choice_label(choices, value) -> str:
    """The label of a model choice (a `TextChoices` class and its value) in the language of the page."""
    return gettext(choices(value).label)


def choice_options(choices) -> list[tuple[str, str]]:
    """(value, label) pairs of a `TextChoices` class for a select, labels in the language of the page."""
    return [(value, gettext(label)) for value, label in choices.choices]


def translated(message: str) -> str:
    """A stored or shared German text (an event message, a model label) in the language of the page, if the
    catalog knows it (marked with `gettext_noop` where it is written); anything else as it is."""
    return gettext(message) if message else message
