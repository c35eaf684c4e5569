"""The queue's bulk-action form: which action, and its inputs (checked by grants.services.bulk)."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from core.limits import SHORT_TEXT
from core.models import User

from .forms import instructors
from .models import CommitteeSession
from .services.bulk import ACTION_CHOICES


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), choices=[("", "—"), *ACTION_CHOICES])
    all_matching = forms.BooleanField(
        label=_("Sélectionner tous les dossiers correspondant à ces filtres"), required=False
    )
    instructor: forms.ModelChoiceField[User] = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label=_("Instructeur·rice (attribution)"),
        required=False,
    )
    subject = forms.CharField(
        label=_("Objet (message aux porteurs)"), required=False, max_length=200
    )
    message = forms.CharField(
        max_length=SHORT_TEXT,
        label=_("Message (compléments ou message aux porteurs)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    deadline = forms.DateField(
        label=_("Date limite (compléments)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )
    session = forms.ModelChoiceField(
        queryset=CommitteeSession.objects.none(),
        label=_("Séance de comité"),
        required=False,
    )
    reason = forms.CharField(
        max_length=SHORT_TEXT, label=_("Motif (classement sans suite)"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instructor_field().queryset = instructors()
        self.session_field().queryset = CommitteeSession.objects.filter(
            state__in=[CommitteeSession.State.PLANNED, CommitteeSession.State.OPEN]
        ).order_by("date")

    def instructor_field(self) -> forms.ModelChoiceField[User]:
        return cast("forms.ModelChoiceField[User]", self.fields["instructor"])

    def session_field(self) -> forms.ModelChoiceField[CommitteeSession]:
        return cast("forms.ModelChoiceField[CommitteeSession]", self.fields["session"])

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "instructor": data["instructor"].pk if data.get("instructor") else None,
            "subject": data.get("subject") or "",
            "message": data.get("message") or "",
            "deadline": data.get("deadline"),
            "session": data["session"].pk if data.get("session") else None,
            "reason": data.get("reason") or "",
        }
