"""Pages of accounts, organisations, documents, invitations and notifications.

Views parse input, call one service and render; the rules are in core.services and the
visibility in core.selectors. An object the user may not see answers 404 (existence not leaked).
"""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.http import require_POST

from . import selectors, services
from .audit import audit_log, history_for
from .clock import today
from .errors import DomainError
from .forms import (
    AccountPasswordResetForm,
    BankDetailsForm,
    DocumentUploadForm,
    EmailForm,
    InvitationSignupForm,
    LoginForm,
    MemberInviteForm,
    OrganisationForm,
    SignupForm,
    StaffInviteForm,
    add_domain_error,
)
from .http import AuthenticatedHttpRequest
from .jobs import job_file_available
from .models import BackgroundJob, Organisation, Role, User
from .permissions import (
    can_see_bank_details,
    has_role,
    is_member,
    is_organisation_admin,
    is_staff_member,
)

# --------------------------------------------------------------------------- home


def home(request: HttpRequest) -> HttpResponse:
    """Public landing for visitors; for signed-in users a dashboard of links by role."""
    if not request.user.is_authenticated:
        return render(request, "core/home_public.html")
    user = request.user
    context = {
        "memberships": selectors.memberships_of(user),
        "unread_notifications": selectors.notifications_of(user).filter(read_at__isnull=True)[:5],
        "can_invite_staff": has_role(user, Role.PROGRAMME_MANAGER),
        "is_finance": has_role(user, Role.FINANCE_OFFICER),
        "is_auditor": has_role(user, Role.AUDITOR),
        "is_panel_member": has_role(user, Role.PANEL_MEMBER),
    }
    return render(request, "core/home.html", context)


# --------------------------------------------------------------------------- authentication


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        from .oidc import oidc_enabled

        return {**super().get_context_data(**kwargs), "oidc_enabled": oidc_enabled()}


class LogoutView(auth_views.LogoutView):
    """Local logout; a session opened by single sign-on also ends at the identity provider."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        from .oidc import oidc_enabled, provider_logout_url

        provider_url = None
        if (
            oidc_enabled()
            and settings.OIDC_OP_LOGOUT_ENDPOINT
            and "oidc_id_token" in request.session
        ):
            provider_url = provider_logout_url(request)
        response = super().post(request, *args, **kwargs)
        if provider_url is not None:
            return redirect(provider_url)
        return response


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("core:home")
    # An invitation e-mail links here with the invited address (grants.services.partners).
    form = SignupForm(request.POST or None, initial={"email": request.GET.get("email", "")[:254]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.user_signup(
                email=data["email"],
                password=data["password"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                organisation_data=form.organisation_data(),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            request.session["signup_email"] = data["email"].lower()
            return redirect("core:signup_done")
    return render(request, "core/signup.html", {"form": form})


def signup_done(request: HttpRequest) -> HttpResponse:
    return render(
        request, "core/signup_done.html", {"email": request.session.get("signup_email", "")}
    )


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    try:
        services.user_verify_email(token=token)
    except DomainError as exc:
        return render(
            request,
            "core/verify_email_failed.html",
            {"error": exc.message, "form": EmailForm()},
            status=400,
        )
    messages.success(request, _("Votre adresse e-mail est confirmée. Vous pouvez vous connecter."))
    return redirect("core:home" if request.user.is_authenticated else "core:login")


def verify_email_resend(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.user_send_verification(email=form.cleaned_data["email"])
        messages.success(
            request,
            _(
                "Si un compte attend une confirmation à cette adresse, un nouveau lien "
                "vient d'y être envoyé."
            ),
        )
        return redirect("core:login")
    return render(request, "core/verify_email_resend.html", {"form": form})


class PasswordResetView(auth_views.PasswordResetView):
    form_class = AccountPasswordResetForm
    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("core:password_reset_done")


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("core:password_reset_complete")


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "registration/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("core:password_change_done")


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"


# --------------------------------------------------------------------------- account


@login_required
def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request, "core/profile.html", {"memberships": selectors.memberships_of(request.user)}
    )


# --------------------------------------------------------------------------- organisations


def _visible_organisation(request: AuthenticatedHttpRequest, pk: int) -> Organisation:
    return get_object_or_404(selectors.organisations_visible_to(request.user), pk=pk)


def _organisation_context(
    request: AuthenticatedHttpRequest, organisation: Organisation, tab: str
) -> dict[str, Any]:
    user = request.user
    return {
        "organisation": organisation,
        "tab": tab,
        "is_member": is_member(user, organisation),
        "is_org_admin": is_organisation_admin(user, organisation),
        "can_edit": is_organisation_admin(user, organisation) or has_role(user, Role.ADMIN),
        "can_see_bank": can_see_bank_details(user, organisation),
    }


@login_required
def organisation_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    organisation = _visible_organisation(request, pk)
    context = _organisation_context(request, organisation, "profile")
    if context["can_see_bank"]:
        context["masked_iban"] = services.mask_iban(organisation.iban)
    context["history"] = history_for(organisation)
    return render(request, "core/organisation_detail.html", context)


@login_required
def organisation_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    organisation = _visible_organisation(request, pk)
    context = _organisation_context(request, organisation, "profile")
    if not context["can_edit"]:
        raise Http404
    # The form edits a copy; the service re-reads the row under lock and decides.
    form = OrganisationForm(
        request.POST or None, instance=Organisation.objects.get(pk=organisation.pk)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.organisation_update(
                actor=request.user, organisation=organisation, data=form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Le profil de l'organisation est enregistré."))
            return redirect("core:organisation_detail", pk=organisation.pk)
    context["form"] = form
    return render(request, "core/organisation_edit.html", context)


@login_required
def organisation_bank(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Bank details: members and finance read them; organisation administrators change them."""
    organisation = _visible_organisation(request, pk)
    context = _organisation_context(request, organisation, "bank")
    if not context["can_see_bank"]:
        raise Http404
    form = None
    if context["is_org_admin"]:
        form = BankDetailsForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.organisation_set_bank_details(
                    actor=request.user,
                    organisation=organisation,
                    iban=form.cleaned_data["iban"],
                    bic=form.cleaned_data["bic"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    _(
                        "Les coordonnées bancaires sont enregistrées. Les autres "
                        "membres de l'organisation en sont informés."
                    ),
                )
                return redirect("core:organisation_bank", pk=organisation.pk)
    elif request.method == "POST":
        raise Http404
    context["form"] = form
    return render(request, "core/organisation_bank.html", context)


# --------------------------------------------------------------------------- documents


@login_required
def documents(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The organisation's documents (tell us once); members upload here."""
    organisation = _visible_organisation(request, pk)
    context = _organisation_context(request, organisation, "documents")
    form = None
    if context["is_member"]:
        form = DocumentUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                services.document_upload(
                    actor=request.user,
                    organisation=organisation,
                    kind=data["kind"],
                    file=data["file"],
                    valid_until=data.get("valid_until"),
                    title=data.get("title", ""),
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, _("Le document est enregistré."))
                return redirect("core:documents", pk=organisation.pk)
    elif request.method == "POST":
        raise Http404
    context["form"] = form
    context["today"] = today()
    context["documents"] = organisation.documents.select_related("uploaded_by").order_by(
        "kind", "-uploaded_at"
    )
    status = 400 if form is not None and form.errors else 200
    return render(request, "core/documents.html", context, status=status)


@login_required
@require_POST
def document_delete(request: AuthenticatedHttpRequest, pk: int, doc_pk: int) -> HttpResponse:
    document = get_object_or_404(
        selectors.documents_visible_to(request.user), pk=doc_pk, organisation_id=pk
    )
    if not is_member(request.user, document.organisation):
        raise Http404
    try:
        services.document_delete(actor=request.user, document=document)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Le document est supprimé."))
    return redirect("core:documents", pk=pk)


@login_required
def document_download(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    """Stream a private document to the organisation's members and to staff; 404 for anyone else."""
    document = get_object_or_404(selectors.documents_visible_to(request.user), pk=pk)
    try:
        handle = document.file.open("rb")
    except FileNotFoundError:
        raise Http404
    # Who saw what: every download is logged (shown to the organisation's administrators).
    audit_log(actor=request.user, obj=document, action="core.document.downloaded")
    response = FileResponse(handle, as_attachment=True, filename=document.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


# --------------------------------------------------------------------------- members and invitations


@login_required
def members(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    organisation = _visible_organisation(request, pk)
    context = _organisation_context(request, organisation, "members")
    if not context["is_member"] and not is_staff_member(request.user):
        raise Http404
    form = None
    if context["is_org_admin"]:
        form = MemberInviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.membership_invite(
                    actor=request.user,
                    organisation=organisation,
                    email=form.cleaned_data["email"],
                    is_admin=form.cleaned_data["is_admin"],
                )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(
                    request,
                    _("L'invitation est envoyée à %(email)s.")
                    % {"email": form.cleaned_data["email"]},
                )
                return redirect("core:members", pk=organisation.pk)
    elif request.method == "POST":
        raise Http404
    context.update(
        form=form,
        members=selectors.members_of(organisation),
        invitations=selectors.pending_invitations(organisation) if context["is_org_admin"] else [],
    )
    return render(request, "core/members.html", context)


@login_required
def staff_invite(request: AuthenticatedHttpRequest) -> HttpResponse:
    if not has_role(request.user, Role.PROGRAMME_MANAGER):
        raise Http404
    form = StaffInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.staff_invite(
                actor=request.user, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(
                request,
                _("L'invitation est envoyée à %(email)s.") % {"email": form.cleaned_data["email"]},
            )
            return redirect("core:staff_invite")
    return render(request, "core/staff_invite.html", {"form": form})


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """A signed-in invitee confirms; a newcomer creates the account with the invited address."""
    found = services.invitation_for_token(token)
    try:
        invitation = services.ensure_invitation_usable(found)
    except DomainError as exc:
        return render(
            request,
            "core/invitation_invalid.html",
            {"error": exc.message},
            status=404 if exc.code == "invalid_token" else 410,
        )
    context: dict[str, Any] = {
        "invitation": invitation,
        "is_admin": services.invitation_is_admin(invitation),
        "role_label": Role(invitation.role).label if invitation.role else "",
    }
    user = request.user
    form = None if user.is_authenticated else InvitationSignupForm(request.POST or None)
    if request.method == "POST" and (form is None or form.is_valid()):
        data = cast(User, user) if form is None else form.cleaned_data
        try:
            accepted = services.invitation_accept(token=token, user_or_new_user_data=data)
        except DomainError as exc:
            if form is not None and exc.errors:
                add_domain_error(form, exc)
            else:
                context["error"] = exc.message
        else:
            if not user.is_authenticated:
                login(request, accepted, backend="core.auth.EmailBackend")
            messages.success(request, _("Bienvenue ! L'invitation est acceptée."))
            if invitation.organisation_id:
                return redirect("core:organisation_detail", pk=invitation.organisation_id)
            return redirect("core:home")
    context["form"] = form
    context["wrong_account"] = (
        user.is_authenticated and user.email.lower() != invitation.email.lower()
    )
    return render(request, "core/invitation_accept.html", context)


# --------------------------------------------------------------------------- notifications


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch (cookie, redirect to `next`), and for a signed-in person the
    choice kept on their account: notifications and emails are then written in it."""
    response = i18n_views.set_language(request)
    if request.user.is_authenticated:
        services.user_set_language(user=request.user, language=request.POST.get("language", ""))
    return response


@login_required
def notifications(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's notifications, newest first. Opening the list marks the page shown as read;
    those unread until now stay highlighted on this display."""
    page = Paginator(selectors.notifications_of(request.user), 25).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    unread_ids = [n.pk for n in rows if n.read_at is None]
    response = render(
        request, "core/notifications.html", {"page": page, "rows": rows, "unread_ids": unread_ids}
    )
    if unread_ids:
        services.notifications_mark_read(actor=request.user, ids=unread_ids)
    return response


@login_required
def notification_open(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Mark one notification read and follow its link (only to this site)."""
    notification = get_object_or_404(selectors.notifications_of(request.user), pk=pk)
    services.notification_mark_read(actor=request.user, notification=notification)
    if notification.url and url_has_allowed_host_and_scheme(
        notification.url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(notification.url)
    return redirect("core:notifications")


@login_required
@require_POST
def notifications_mark_all_read(request: AuthenticatedHttpRequest) -> HttpResponse:
    count = services.notifications_mark_read(actor=request.user)
    if count:
        messages.success(request, _("Toutes les notifications sont marquées comme lues."))
    return redirect(reverse("core:notifications"))


# --------------------------------------------------------------------------- background jobs


@login_required
def jobs(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The person's own background jobs, newest first."""
    page = Paginator(BackgroundJob.objects.filter(owner=request.user), 25).get_page(
        request.GET.get("page")
    )
    return render(request, "core/jobs.html", {"page": page, "rows": page.object_list})


@login_required
def job_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Progress of one job; the page refreshes itself while the job runs. `?format=json` answers
    the same as JSON for scripts."""
    job = get_object_or_404(BackgroundJob, pk=pk, owner=request.user)
    available = job_file_available(job)
    if request.GET.get("format") == "json":
        return JsonResponse(
            {
                "id": job.pk,
                "state": job.state,
                "done": job.progress_done,
                "total": job.progress_total,
                "percent": job.percent,
                "result": job.result,
                "error": job.error,
                "download": reverse("core:job_download", args=[job.pk]) if available else None,
            }
        )
    return render(
        request,
        "core/job_detail.html",
        {
            "job": job,
            "available": available,
            "running": job.state in (BackgroundJob.State.QUEUED, BackgroundJob.State.RUNNING),
        },
    )


@login_required
def job_download(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    """The job's file, for its owner only, until it expires (then 404 with the page explaining)."""
    job = get_object_or_404(BackgroundJob, pk=pk, owner=request.user)
    if not job_file_available(job):
        raise Http404
    response = FileResponse(
        job.result_file.open("rb"), as_attachment=True, filename=job.result_name
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
