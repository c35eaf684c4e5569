"""Forms of accounts and organisations. They parse input; the rules live in core.services."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.contrib.auth.password_validation import password_validators_help_text_html
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .auth import throttled_message
from .errors import DomainError, TransitionNotAllowed
from .limits import PASSWORD_TEXT
from .models import DocumentKind, Organisation, Role
from .notifications import absolute_url, account_email_html, user_language
from .services import INVITABLE_ROLES

password_help = lazy(password_validators_help_text_html, str)


class AccountPasswordResetForm(PasswordResetForm):
    """Django's password-reset form, its e-mail written as the other account e-mails (sign-up,
    invitation): an absolute link built from SITE_URL (never from the request's Host header), a
    plain-text and an HTML part, in the account's language (User.language)."""

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        from .tasks import send_email

        with translation.override(user_language(context["user"])):
            path = reverse(
                "core:password_reset_confirm",
                kwargs={"uidb64": context["uid"], "token": context["token"]},
            )
            context = {**context, "link": absolute_url(path), "site_url": absolute_url("/")}
            subject = "".join(render_to_string(subject_template_name, context).splitlines())
            text = render_to_string(email_template_name, context)
            html = account_email_html(subject=subject, text=text)
        transaction.on_commit(lambda: send_email.delay(subject, text, [to_email], html))


def add_domain_error(form: forms.BaseForm, exc: DomainError) -> None:
    """Show a service's DomainError next to the fields it names (else at the top of the form)."""
    if not exc.errors:
        form.add_error(None, str(exc.message))
        return
    for field, messages in exc.errors.items():
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, str(message))


def transition_error_message(exc: DomainError, labels: Mapping[str, Any]) -> str:
    """A service's message for a page: transition code names replaced by their button labels and,
    for a transition not allowed now, the actions that are (`labels`: code name → label)."""
    message = str(exc.message)
    for name, label in labels.items():
        message = message.replace(f"« {name} »", f"« {label} »")
    if isinstance(exc, TransitionNotAllowed) and exc.allowed:
        names = ", ".join(f"« {labels.get(n, n)} »" for n in exc.allowed)
        message = f"{message} " + _("Actions possibles maintenant : %(list)s.") % {"list": names}
    return message


def forms_fingerprint(*forms_: forms.BaseForm, choices: bool = True) -> str:
    """A digest of everything the forms' HTML depends on beyond their classes: the language, the
    prefix and ids, the initial and bound data, each field's label, help, flags and widget
    attributes, and its choices (read from the database now). It keys a cached template fragment (`{% cache … forms_key %}`, issue 17) that therefore
    never goes stale: a new call, instructor or committee session changes the choices, so the key.
    `choices=False`: all but the choices, for a key that holds their tables' data version."""
    parts: list[str] = [get_language() or ""]
    for form in forms_:
        data = form.data
        bound = sorted(data.lists()) if hasattr(data, "lists") else sorted(data.items())
        parts.append(
            repr(
                (
                    type(form).__module__,
                    type(form).__qualname__,
                    form.prefix,
                    form.auto_id,
                    form.is_bound,
                    bound,
                    sorted((k, str(v)) for k, v in form.initial.items()),
                )
            )
        )
        for name, field in form.fields.items():
            parts.append(
                repr(
                    (
                        name,
                        str(field.label),
                        str(field.help_text),
                        field.required,
                        field.disabled,
                        sorted((k, str(v)) for k, v in field.widget.attrs.items()),
                    )
                )
            )
            if not choices:
                continue
            if isinstance(field, forms.ModelChoiceField):
                # What its choices iterate, in one plain query: ModelChoiceIterator reads through
                # `.iterator()`, a server-side cursor on PostgreSQL (three round trips).
                listed = [("", str(field.empty_label))] if field.empty_label is not None else []
                listed += [
                    (str(field.prepare_value(o)), str(field.label_from_instance(o)))
                    for o in field.queryset or ()
                ]
                parts.append(repr((name, listed)))
            elif (field_choices := getattr(field, "choices", None)) is not None:
                parts.append(repr((name, _flat_choices(field_choices))))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _flat_choices(choices: Any) -> list[tuple[str, Any]]:
    flat: list[tuple[str, Any]] = []
    for value, label in choices:
        if isinstance(label, list | tuple):  # an optgroup: (group label, [(value, label), …])
            flat.append((str(value), _flat_choices(label)))
        else:
            flat.append((str(value), str(label)))
    return flat


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


class LoginForm(AuthenticationForm):
    """Email + password. Says plainly when the account is throttled or not yet confirmed."""

    # As AuthenticationForm's, with a length limit (issue 11).
    password = forms.CharField(
        max_length=PASSWORD_TEXT,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("Adresse e-mail ou mot de passe incorrect."),
        "unverified": _(
            "Votre adresse e-mail n'est pas encore confirmée. Ouvrez le lien reçu par "
            "e-mail, ou demandez un nouveau lien ci-dessous."
        ),
        "inactive": _("Ce compte est désactivé."),
    }

    def __init__(self, request: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Adresse e-mail")
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autocomplete": "email", "autofocus": True}
        )
        self.fields["password"].label = _("Mot de passe")
        self.unverified = False

    def _locked_out(self) -> bool:
        return bool(getattr(self.request, "axes_locked_out", False))

    def clean(self) -> dict[str, Any]:
        email = (self.cleaned_data.get("username") or "").strip().lower()
        self.cleaned_data["username"] = email
        try:
            return super().clean()
        except ValidationError:
            # django-axes refuses silently once locked out; say why instead of "wrong password".
            if self._locked_out():
                raise ValidationError(throttled_message(), code="throttled")
            user = get_user_model().objects.filter(email__iexact=email, is_active=False).first()
            password = self.cleaned_data.get("password") or ""
            if user is not None and user.check_password(password):
                if user.email_verified_at is None:
                    self.unverified = True
                    raise ValidationError(self.error_messages["unverified"], code="unverified")
                raise ValidationError(self.error_messages["inactive"], code="inactive")
            raise


class SignupForm(forms.Form):
    """An association's first account. Field names are the service's, so its errors land in place."""

    first_name = forms.CharField(
        label=_("Prénom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Nom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    email = forms.EmailField(
        label=_("Adresse e-mail"),
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("Un lien de confirmation y sera envoyé."),
    )
    password = forms.CharField(
        max_length=PASSWORD_TEXT,
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_help(),
    )
    password_confirm = forms.CharField(
        max_length=PASSWORD_TEXT,
        label=_("Confirmation du mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    name = forms.CharField(label=_("Nom de l'organisation"), max_length=255)
    siret = forms.CharField(
        label=_("SIRET"),
        max_length=20,
        help_text=_("14 chiffres, par exemple 356 000 000 00048."),
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    rna = forms.CharField(
        label=_("Numéro RNA (facultatif)"),
        max_length=12,
        required=False,
        help_text=_("W suivi de 9 caractères, par exemple W751234567."),
    )
    legal_form = forms.ChoiceField(
        label=_("Forme juridique"),
        choices=Organisation.LegalForm.choices,
        initial=Organisation.LegalForm.ASSOCIATION,
    )
    postcode = forms.CharField(
        label=_("Code postal (facultatif)"),
        max_length=5,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code", "inputmode": "numeric"}),
    )
    city = forms.CharField(label=_("Commune (facultatif)"), max_length=120, required=False)

    ORGANISATION_FIELDS = ("name", "siret", "rna", "legal_form", "postcode", "city")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if (
            data.get("password")
            and data.get("password_confirm")
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", _("Les deux mots de passe ne correspondent pas."))
        return data

    def organisation_data(self) -> dict[str, Any]:
        return {k: self.cleaned_data.get(k, "") for k in self.ORGANISATION_FIELDS}


class EmailForm(forms.Form):
    email = forms.EmailField(
        label=_("Adresse e-mail"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )


class OrganisationForm(forms.ModelForm):  # type: ignore[type-arg]  # not subscriptable at runtime
    class Meta:
        model = Organisation
        fields = [
            "name",
            "rna",
            "legal_form",
            "email",
            "phone",
            "address",
            "postcode",
            "city",
            "commune_insee",
            "legal_rep_name",
            "legal_rep_role",
        ]


class BankDetailsForm(forms.Form):
    iban = forms.CharField(
        label=_("IBAN"),
        max_length=42,
        help_text=_("Par exemple FR76 3000 6000 0112 3456 7890 189."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    bic = forms.CharField(
        label=_("BIC"),
        max_length=11,
        help_text=_("8 ou 11 caractères, par exemple AGRIFRPP."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class DocumentUploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type de document"), choices=DocumentKind.choices)
    title = forms.CharField(label=_("Titre (facultatif)"), max_length=200, required=False)
    file = forms.FileField(label=_("Fichier"))
    valid_until = forms.DateField(
        label=_("Valide jusqu'au (facultatif)"),
        required=False,
        widget=DateInput(),
        help_text=_("Par exemple la fin de l'exercice couvert ou la date d'échéance."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from django.conf import settings

        extensions = ", ".join(settings.UPLOAD_ALLOWED_EXTENSIONS)
        max_mb = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
        self.fields["file"].help_text = _("Formats acceptés : %(list)s ; %(max)s Mo au plus.") % {
            "list": extensions,
            "max": max_mb,
        }
        self.fields["file"].widget.attrs["accept"] = ",".join(
            f".{e}" for e in settings.UPLOAD_ALLOWED_EXTENSIONS
        )


class MemberInviteForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail de la personne à inviter"))
    is_admin = forms.BooleanField(
        label=_("Administrateur·rice de l'organisation"),
        required=False,
        help_text=_(
            "Peut modifier le profil, les coordonnées bancaires et inviter d'autres membres."
        ),
    )


class StaffInviteForm(forms.Form):
    email = forms.EmailField(label=_("Adresse e-mail"))
    role = forms.ChoiceField(label=_("Rôle"), choices=[(r, Role(r).label) for r in INVITABLE_ROLES])


class InvitationSignupForm(forms.Form):
    first_name = forms.CharField(
        label=_("Prénom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label=_("Nom"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )
    password = forms.CharField(
        max_length=PASSWORD_TEXT,
        label=_("Mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_help(),
    )
    password_confirm = forms.CharField(
        max_length=PASSWORD_TEXT,
        label=_("Confirmation du mot de passe"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if (
            data.get("password")
            and data.get("password_confirm")
            and data["password"] != data["password_confirm"]
        ):
            self.add_error("password_confirm", _("Les deux mots de passe ne correspondent pas."))
        return data


class CheckboxList(forms.CheckboxSelectMultiple):
    """A multiple choice as a list of checkboxes (never a Ctrl/Cmd multi-select), in a scrollable
    box that static/js/checklist.js turns into a searchable list when JavaScript runs."""

    template_name = "core/widgets/checkbox_list.html"


def field_anchor(bound: forms.BoundField) -> str:
    """The id of the element a summary link points to: the field, or its first checkbox/radio."""
    return bound.id_for_label or (f"{bound.auto_id}_0" if bound.auto_id else "")


def error_summary(*forms_or_formsets: Any, intro: str = "") -> list[dict[str, str]]:
    """Every error of the given forms and formsets as {"message", "href"} rows, in page order, for
    the summary at the top of a page (templates/includes/error_summary.html); the same message stays
    next to its field. Non-field errors have no link (they are shown in the summary only); a
    message equal to `intro` (the summary's first line) is left out."""
    rows: list[dict[str, str]] = []
    for item in forms_or_formsets:
        if item is None or not item.is_bound:
            continue
        subforms = list(item.forms) if isinstance(item, forms.BaseFormSet) else [item]
        if isinstance(item, forms.BaseFormSet):
            rows += [{"message": str(m), "href": ""} for m in item.non_form_errors()]
        for form in subforms:
            if getattr(form, "cleaned_data", None) is not None and form.cleaned_data.get("DELETE"):
                continue
            rows += [{"message": str(m), "href": ""} for m in form.non_field_errors()]
            for name in form.errors:
                if name == NON_FIELD_ERRORS or name not in form.fields:
                    continue
                anchor = field_anchor(form[name])
                href = f"#{anchor}" if anchor else ""
                rows += [{"message": str(m), "href": href} for m in form.errors[name]]
    # The summary's introduction is not listed a second time below it.
    return [row for row in rows if not intro or row["message"] != str(intro)]
