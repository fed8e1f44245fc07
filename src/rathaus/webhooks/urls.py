from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("verwaltung/webhooks/", views.index, name="index"),
    path("verwaltung/webhooks/<int:pk>/", views.detail, name="detail"),
    path("verwaltung/webhooks/<int:pk>/aktion/", views.action, name="action"),
]
