"""`manage.py demo --reset`: removes the demo's rows so they can be rebuilt identically."""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from calls.models import Call, Programme
from core.models import (
    AuditLog,
    Notification,
    Organisation,
    OrganisationDocument,
    ReferenceCounter,
    User,
)
from demo.agreements import (
    AGREEMENT_PREFIXES,
)
from demo.data import (
    ASSOCIATIONS,
    EMAIL_DOMAIN,
    FISCAL_YEAR,
    siret_for,
)
from grants.models import (
    Application,
    AssignmentRule,
    CommitteeSession,
)

# --------------------------------------------------------------------------- reset


def reset_demo() -> int:
    """Delete the demo's rows (programme, calls, files, organisations, users, their audit rows)."""
    with transaction.atomic():
        programmes = list(
            Programme.objects.filter(name="Contrat de ville", fiscal_year=FISCAL_YEAR)
        )
        from demo.contracts import reset_contract_demo

        reset_contract_demo()
        from demo.directory import reset_directory_demo

        reset_directory_demo()
        from demo.finance import reset_finance_demo

        reset_finance_demo(programmes)
        apps = Application.objects.filter(programme__in=programmes)
        ids = {
            Application: [str(pk) for pk in apps.values_list("pk", flat=True)],
            Call: [
                str(pk)
                for pk in Call.objects.filter(programme__in=programmes).values_list("pk", flat=True)
            ],
            CommitteeSession: [
                str(pk)
                for pk in CommitteeSession.objects.filter(programme__in=programmes).values_list(
                    "pk", flat=True
                )
            ],
            Programme: [str(p.pk) for p in programmes],
        }
        count = len(ids[Application])
        ids.update(_other_mode_ids(programmes))
        for model, pks in ids.items():
            AuditLog.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_id__in=pks
            ).delete()
        _delete_agreements(programmes)
        _delete_other_modes(programmes)
        apps.delete()
        _delete_needs_and_challenges(programmes)
        CommitteeSession.objects.filter(programme__in=programmes).delete()
        AssignmentRule.objects.filter(instructor__email__endswith=f"@{EMAIL_DOMAIN}").delete()
        Call.objects.filter(programme__in=programmes).delete()
        Programme.objects.filter(pk__in=[p.pk for p in programmes]).delete()
        sirets = [siret_for(i) for i in range(len(ASSOCIATIONS))]
        for doc in OrganisationDocument.objects.filter(organisation__siret__in=sirets):
            doc.file.delete(save=False)
        Organisation.objects.filter(siret__in=sirets, applications__isnull=True).delete()
        Notification.objects.filter(user__email__endswith=f"@{EMAIL_DOMAIN}").delete()
        User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
        for prefix in ["AAP", "AAAP", "AAS", "SAS", "HA"]:
            # Counters restart only when no file of that series is left, so rebuilt references match.
            if not Application.objects.filter(
                reference__startswith=f"{prefix}-{FISCAL_YEAR}-"
            ).exists():
                ReferenceCounter.objects.filter(prefix=prefix, year=FISCAL_YEAR).delete()
    return count


# --------------------------------------------------------------------------- reset of the other modes


def _other_mode_ids(programmes: list[Programme]) -> dict[Any, list[str]]:
    """The ids whose audit rows the reset removes: candidacies, needs, challenges."""
    from calls.models import Challenge, Need
    from grants.models import Candidacy

    return {
        Candidacy: [
            str(pk)
            for pk in Candidacy.objects.filter(need__call__programme__in=programmes).values_list(
                "pk", flat=True
            )
        ],
        Need: [
            str(pk)
            for pk in Need.objects.filter(call__programme__in=programmes).values_list(
                "pk", flat=True
            )
        ],
        Challenge: [
            str(pk)
            for pk in Challenge.objects.filter(call__programme__in=programmes).values_list(
                "pk", flat=True
            )
        ],
    }


def _delete_other_modes(programmes: list[Programme]) -> None:
    """What protects the demo's files from deletion: ballots, allocation runs, candidacies."""
    from grants.models import AllocationRun, Ballot, BallotChoice, Candidacy, PanelAssessment

    BallotChoice.objects.filter(call__programme__in=programmes).delete()
    Ballot.objects.filter(call__programme__in=programmes).delete()
    AllocationRun.objects.filter(call__programme__in=programmes).delete()
    PanelAssessment.objects.filter(application__programme__in=programmes).delete()
    Candidacy.objects.filter(need__call__programme__in=programmes).delete()


def _delete_needs_and_challenges(programmes: list[Programme]) -> None:
    from calls.models import Challenge, Need, Panel

    Need.objects.filter(call__programme__in=programmes).delete()
    Challenge.objects.filter(call__programme__in=programmes).delete()
    Panel.objects.filter(call__programme__in=programmes).delete()


def _delete_agreements(programmes: list[Programme]) -> None:
    """The demo's agreements and everything under them, with their audit rows and counters."""
    from cpo.models import (
        Agreement,
        Amendment,
        Evaluation,
        Instalment,
        Recovery,
    )

    agreements = Agreement.objects.filter(programme__in=programmes)
    years = set(agreements.values_list("first_year", flat=True))
    for model, qs in [
        (Recovery, Recovery.objects.filter(agreement__in=agreements)),
        (Amendment, Amendment.objects.filter(agreement__in=agreements)),
        (Evaluation, Evaluation.objects.filter(agreement__in=agreements)),
        (Instalment, Instalment.objects.filter(agreement__in=agreements)),
        (Agreement, agreements),
    ]:
        AuditLog.objects.filter(
            content_type=ContentType.objects.get_for_model(model),
            object_id__in=[str(pk) for pk in qs.values_list("pk", flat=True)],
        ).delete()
    Recovery.objects.filter(agreement__in=agreements).delete()
    Instalment.objects.filter(agreement__in=agreements).delete()
    agreements.delete()
    for prefix in AGREEMENT_PREFIXES:
        for year in years:
            if not Agreement.objects.filter(reference__startswith=f"{prefix}-{year}-").exists():
                ReferenceCounter.objects.filter(prefix=prefix, year=year).delete()
