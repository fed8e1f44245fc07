"""Domain errors. API handlers turn them into problem+json, views into form messages."""


class DomainError(Exception):
    status = 400
    title = "Ungültige Anfrage"
    type = "about:blank"

    def __init__(self, detail: str = "", **extra):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "Nicht gefunden"


class Forbidden(DomainError):
    status = 403
    title = "Keine Berechtigung"


class Conflict(DomainError):
    status = 409
    title = "Konflikt"


class Invalid(DomainError):
    status = 422
    title = "Ungültige Daten"

    def __init__(self, detail: str = "", errors: list | None = None, **extra):
        super().__init__(detail or "Die Daten sind ungültig.", **extra)
        self.errors = errors or []


class PayloadTooLarge(DomainError):
    status = 413
    title = "Anfrage zu groß"


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Nicht unterstützter Inhaltstyp"


class ForbiddenWithoutTraceback:
    """logging filter for `django.request`: a refused page (403: a role that may not, a tenant it is not) is a
    line in the log, not a stack trace – it is an answer, not a fault. Other records pass unchanged."""

    def filter(self, record) -> bool:
        if getattr(record, "status_code", None) == 403 and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
