from django.urls import path

from . import views

app_name = "cases"

urlpatterns = [
    path("anmelden/", views.LoginView.as_view(), name="login"),
    path("abmelden/", views.LogoutView.as_view(), name="logout"),
    path("sachbearbeitung/", views.inbox, name="inbox"),
    path("sachbearbeitung/vorgaenge/", views.case_list, name="cases"),
    path("sachbearbeitung/vorgaenge/<int:case_id>/", views.case_detail, name="case"),
    path("sachbearbeitung/vorgaenge/<int:case_id>/aufgaben/<int:task_id>/<slug:action>/", views.task_action,
         name="task_action"),
    path("sachbearbeitung/dokumente/<int:doc_id>/", views.document, name="document"),
]
