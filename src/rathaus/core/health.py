from django.db import connection
from ninja import Router, Status

router = Router(tags=["Betrieb"])


@router.api_operation(["GET", "HEAD"], "/health", summary="Betriebszustand", response={200: dict, 503: dict})
def health(request):
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        db = "ok"
    except Exception:  # noqa: BLE001
        db = "error"
    status = 200 if db == "ok" else 503
    return Status(status, {"status": "ok" if db == "ok" else "degraded", "database": db})
