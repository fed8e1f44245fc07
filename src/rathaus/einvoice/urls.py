from django.urls import path

from . import views

app_name = "einvoice"

urlpatterns = [
    path("rechnungen/", views.inbox, name="inbox"),
    path("rechnungen/<int:invoice_id>/", views.invoice, name="invoice"),
    path("rechnungen/<int:invoice_id>/zurueckweisung/", views.rejection, name="rejection"),
    path("rechnungen/<int:invoice_id>/original/", views.original, name="original"),
    path("rechnungen/<int:invoice_id>/ansicht.pdf", views.pdf_view, name="pdf"),
]
