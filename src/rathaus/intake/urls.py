from django.urls import path

from . import views

app_name = "intake"

urlpatterns = [
    path("", views.start, name="start"),
    path("antrag/<slug:key>/", views.application_form, name="form"),
    path("antrag/<slug:key>/bestaetigung/", views.confirmation, name="confirmation"),
    path("status/", views.status_lookup, name="status_lookup"),
    path("status/<str:reference>/", views.status, name="status"),
    path("status/<str:reference>/dokumente/<int:doc_id>/", views.status_document, name="status_document"),
]
