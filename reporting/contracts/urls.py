from django.urls import path

from . import views, views_manage, views_observatory, views_report, views_steering

app_name = "contracts"
urlpatterns = [
    path("", views.contract_list, name="list"),
    path("nouveau/", views_manage.contract_new, name="new"),
    path("<int:pk>/", views.contract_detail, name="detail"),
    path("<int:pk>/volets/nouveau/", views_manage.part_new, name="part_new"),
    path("<int:pk>/volets/programme/", views_manage.programme_attach, name="programme_attach"),
    path("<int:pk>/signataires/nouveau/", views_manage.signatory_new, name="signatory_new"),
    path("<int:pk>/engagements/nouveau/", views_manage.commitment_new, name="commitment_new"),
    path("<int:pk>/signer/", views.contract_sign, name="sign"),
    path(
        "<int:pk>/engagements/<int:commitment_pk>/realisation/",
        views.commitment_report,
        name="commitment_report",
    ),
    path("<int:pk>/avis/", views.opinion_form, name="opinion"),
    path("<int:pk>/pilotage/nouveau/", views_steering.meeting_new, name="meeting_new"),
    path("<int:pk>/pilotage/<int:meeting_pk>/", views_steering.meeting_detail, name="meeting"),
    path(
        "<int:pk>/pilotage/<int:meeting_pk>/releve.pdf",
        views_steering.meeting_minutes_pdf,
        name="meeting_minutes",
    ),
    path("<int:pk>/observatoire/", views_observatory.observatory, name="observatory"),
    path(
        "<int:pk>/rapport-annuel/<int:year>/soumettre/",
        views_report.report_submit,
        name="report_submit",
    ),
    path(
        "<int:pk>/rapport-annuel/<int:year>/approuver/",
        views_report.report_approve,
        name="report_approve",
    ),
    path(
        "<int:pk>/rapport-annuel/<int:year>.<str:fmt>",
        views_observatory.annual_report_download,
        name="annual_report",
    ),
]
