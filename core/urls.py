"""Accounts, organisations, documents, invitations and notifications (French slugs)."""

from django.urls import path

from . import views, views_privacy, views_security

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    # Authentication
    path("connexion/", views.LoginView.as_view(), name="login"),
    path("deconnexion/", views.LogoutView.as_view(), name="logout"),
    path("inscription/", views.signup, name="signup"),
    path("inscription/envoyee/", views.signup_done, name="signup_done"),
    path("inscription/confirmer/<str:token>/", views.verify_email, name="verify_email"),
    path("inscription/nouveau-lien/", views.verify_email_resend, name="verify_email_resend"),
    path("mot-de-passe/oublie/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "mot-de-passe/oublie/envoye/",
        views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "mot-de-passe/reinitialiser/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "mot-de-passe/reinitialise/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    # Account
    path("compte/", views.profile, name="profile"),
    path("compte/mot-de-passe/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "compte/mot-de-passe/modifie/",
        views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("compte/securite/", views_security.security, name="security"),
    path("compte/securite/totp/", views_security.two_factor_enrol, name="two_factor_enrol"),
    path("compte/securite/verifier/", views_security.two_factor_verify, name="two_factor_verify"),
    path(
        "compte/securite/codes-de-secours/",
        views_security.two_factor_recovery_codes,
        name="two_factor_recovery_codes",
    ),
    path("compte/securite/jetons/", views_security.api_token_create, name="api_token_create"),
    path(
        "compte/securite/jetons/<int:pk>/revoquer/",
        views_security.api_token_revoke,
        name="api_token_revoke",
    ),
    path("compte/notifications/", views.notifications, name="notifications"),
    path("compte/notifications/<int:pk>/", views.notification_open, name="notification_open"),
    path(
        "compte/notifications/tout-lu/",
        views.notifications_mark_all_read,
        name="notifications_mark_all_read",
    ),
    # Organisations
    path("organisations/<int:pk>/", views.organisation_detail, name="organisation_detail"),
    path("organisations/<int:pk>/modifier/", views.organisation_edit, name="organisation_edit"),
    path("organisations/<int:pk>/banque/", views.organisation_bank, name="organisation_bank"),
    path("organisations/<int:pk>/documents/", views.documents, name="documents"),
    path(
        "organisations/<int:pk>/documents/<int:doc_pk>/supprimer/",
        views.document_delete,
        name="document_delete",
    ),
    path("organisations/<int:pk>/membres/", views.members, name="members"),
    path("documents/<int:pk>/telecharger/", views.document_download, name="document_download"),
    path("compte/taches/", views.jobs, name="jobs"),
    path("compte/taches/<int:pk>/", views.job_detail, name="job_detail"),
    path("compte/taches/<int:pk>/fichier/", views.job_download, name="job_download"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("equipe/inviter/", views.staff_invite, name="staff_invite"),
    # Personal data (RGPD)
    path("vos-donnees/", views_privacy.your_data, name="your_data"),
    path("vos-donnees/registre.csv", views_privacy.processing_register, name="processing_register"),
    path("compte/mes-donnees/", views_privacy.my_data, name="my_data"),
    path("compte/mes-donnees/export/", views_privacy.my_data_export, name="my_data_export"),
    path(
        "organisations/<int:pk>/documents/consultations/",
        views_privacy.organisation_downloads,
        name="organisation_downloads",
    ),
]
