from django.urls import path

from . import views

app_name = "finance"

urlpatterns = [
    path("kasse/", views.open_items, name="open_items"),
    path("kasse/forderungen/<str:kassenzeichen>/", views.receivable, name="receivable"),
    path("kasse/forderungen/<str:kassenzeichen>/stornieren/", views.cancel, name="cancel"),
    path("kasse/forderungen/<str:kassenzeichen>/erstatten/", views.refund, name="refund"),
    path("kasse/klaerfaelle/", views.clearing, name="clearing"),
    path("kasse/klaerfaelle/<int:tx_id>/<slug:action>/", views.clearing_action, name="clearing_action"),
    path("kasse/kontoauszuege/", views.statements, name="statements"),
    path("kasse/zahlungen/", views.payments, name="payments"),
    path("kasse/zahlungen/laeufe/<int:run_id>/datei/", views.payment_run_file, name="payment_run_file"),
]
