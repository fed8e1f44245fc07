from django.urls import path

from . import views

app_name = "ledger"

urlpatterns = [
    path("haushalt/", views.overview, name="overview"),
    path("haushalt/summen-salden/", views.trial_balance, name="trial_balance"),
    path("haushalt/ergebnisrechnung/", views.results, name="results"),
    path("haushalt/finanzrechnung/", views.cash, name="cash"),
    path("haushalt/journal/", views.journal, name="journal"),
    path("haushalt/perioden/", views.periods, name="periods"),
]
