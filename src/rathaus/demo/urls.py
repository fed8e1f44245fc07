from django.urls import path

from . import views

app_name = "demo"

urlpatterns = [
    path("kasse/forderungen/<str:kassenzeichen>/demo-kontoauszug/", views.receivable_statement,
         name="receivable_statement"),
    path("kasse/zahlungen/laeufe/<int:run_id>/demo-kontoauszug/", views.run_statement, name="run_statement"),
]
