"""Eligibility rules of a call, checked on submission with messages an applicant can act on."""

from __future__ import annotations

from decimal import Decimal

from django.utils.formats import number_format
from django.utils.translation import gettext as _

from calls.models import CallMode, CallState, Challenge
from calls.selectors import eligible_ids
from core.clock import now
from core.models import DocumentKind

from .models import Application, PartnerState
from .selectors import budget_totals, current_partners, part_totals, valid_documents_by_kind


def euros(amount: Decimal) -> str:
    return f"{number_format(amount, decimal_pos=2, use_l10n=True, force_grouping=True)} €"


def eligibility_errors(
    application: Application, *, documents: dict[str, object] | None = None
) -> dict[str, list[str]]:
    """Every rule the file breaks, by field. An empty dict means the file can be submitted.
    `documents`: the organisation's valid documents by kind (valid_documents_by_kind), when the
    caller has read them."""
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    call = application.call
    if not application.title.strip():
        add("title", _("Le titre du projet est obligatoire."))
    if not application.summary.strip():
        add("summary", _("Le résumé du projet est obligatoire."))
    if not application.start_date or not application.end_date:
        add("start_date", _("Les dates de début et de fin du projet sont obligatoires."))
    elif application.end_date < application.start_date:
        add("end_date", _("La date de fin doit suivre la date de début."))
    if application.requested_amount <= 0:
        add("requested_amount", _("Le montant demandé doit être supérieur à zéro."))
    qpv_ids = {q.pk for q in application.qpvs.all()}
    if not qpv_ids:
        add("qpvs", _("Indiquez au moins un quartier prioritaire ciblé."))
    if application.pillar_id is None:
        add("pillar", _("Choisissez le pilier du contrat de ville."))
    if not application.objectives.exists():
        add("objectives", _("Indiquez au moins un objectif."))

    totals = budget_totals(application)
    if totals["charges"] == 0:
        add("budget", _("Le budget prévisionnel est vide."))
    elif totals["balance"] != 0:
        add(
            "budget",
            _("Le budget n'est pas équilibré : total des charges %(c)s, total des produits %(p)s.")
            % {"c": euros(totals["charges"]), "p": euros(totals["products"])},
        )
    if totals["in_kind_charges"] != totals["in_kind_products"]:
        add(
            "budget",
            _(
                "Les contributions en nature doivent être égales en charges (86) et en produits (87)."
            ),
        )
    if application.requested_amount > totals["subsidies"]:
        add(
            "requested_amount",
            _(
                "Le montant demandé (%(r)s) doit figurer dans les subventions du budget (compte 74 : %(s)s)."
            )
            % {"r": euros(application.requested_amount), "s": euros(totals["subsidies"])},
        )

    for field_name, message in partnership_errors(application):
        add(field_name, message)

    if call is not None:
        moment = now()
        if call.state != CallState.OPEN or not (call.opens_at <= moment < call.closes_at):
            add(
                "call",
                _("L'appel « %(call)s » n'est pas ouvert aux candidatures.") % {"call": call.title},
            )
        if call.max_amount is not None and application.requested_amount > call.max_amount:
            add(
                "requested_amount",
                _("Le montant demandé dépasse le plafond de l'appel (%(max)s).")
                % {"max": euros(call.max_amount)},
            )
        base = totals["charges_without_in_kind"]
        if call.max_share_percent is not None and base > 0:
            share = application.requested_amount * 100 / base
            if share > call.max_share_percent:
                add(
                    "requested_amount",
                    _(
                        "La subvention demandée représente %(share)s %% du budget du projet ; l'appel en "
                        "finance au plus %(max)s %%."
                    )
                    % {
                        "share": number_format(share, decimal_pos=1),
                        "max": number_format(call.max_share_percent, decimal_pos=0),
                    },
                )
        eligible_qpvs, eligible_pillars = eligible_ids(call)
        if eligible_qpvs and qpv_ids and not qpv_ids <= eligible_qpvs:
            add("qpvs", _("Certains quartiers ciblés ne sont pas éligibles à cet appel."))
        if (
            eligible_pillars
            and application.pillar_id
            and application.pillar_id not in eligible_pillars
        ):
            add("pillar", _("Ce pilier n'est pas éligible à cet appel."))
        if call.mode == CallMode.SOLUTIONS_CALL:
            # Call for solutions: an operator's action answers one expected solution retained for the
            # call (docs/domain.md §2.3).
            challenge = application.challenge
            if challenge is None:
                add(
                    "challenge",
                    _("Choisissez la solution attendue à laquelle votre action répond."),
                )
            elif challenge.call_id != call.pk or challenge.state != Challenge.State.APPROVED:
                add("challenge", _("Cette solution attendue n'est pas retenue pour cet appel."))
        if call.required_documents:
            have = valid_documents_by_kind(application) if documents is None else documents
            labels = dict(DocumentKind.choices)
            missing = [str(labels.get(k, k)) for k in call.required_documents if k not in have]
            if missing:
                add(
                    "documents",
                    _("Pièces manquantes ou périmées : %(list)s.") % {"list": ", ".join(missing)},
                )
    return errors


def partnership_errors(application: Application) -> list[tuple[str, str]]:
    """A collective file (docs/domain.md §9): every invitation answered, each part's budget
    balanced, each partner's part of the request within its own subsidy lines, the partners' parts
    within the file's request."""
    partners = list(current_partners(application))
    if not partners:
        return []
    errors: list[tuple[str, str]] = []
    lead = part_totals(application, None)
    if lead["balance"] != 0:
        errors.append(
            (
                "budget",
                _("La part du chef de file n'est pas équilibrée : charges %(c)s, produits %(p)s.")
                % {"c": euros(lead["charges"]), "p": euros(lead["products"])},
            )
        )
    asked = Decimal("0")
    for partner in partners:
        if partner.state == PartnerState.INVITED:
            errors.append(
                (
                    "partners",
                    _("%(org)s n'a pas encore répondu à l'invitation : relancez-la ou retirez-la.")
                    % {"org": str(partner)},
                )
            )
            continue
        totals = part_totals(application, partner)
        if totals["balance"] != 0:
            errors.append(
                (
                    "budget",
                    _("La part de %(org)s n'est pas équilibrée : charges %(c)s, produits %(p)s.")
                    % {
                        "org": str(partner),
                        "c": euros(totals["charges"]),
                        "p": euros(totals["products"]),
                    },
                )
            )
        if partner.requested_amount > totals["subsidies"]:
            errors.append(
                (
                    "partners",
                    _(
                        "La part demandée par %(org)s (%(r)s) doit figurer dans ses subventions "
                        "(compte 74 : %(s)s)."
                    )
                    % {
                        "org": str(partner),
                        "r": euros(partner.requested_amount),
                        "s": euros(totals["subsidies"]),
                    },
                )
            )
        asked += partner.requested_amount
    if asked > application.requested_amount:
        errors.append(
            (
                "partners",
                _(
                    "Les parts demandées par les partenaires (%(p)s) dépassent le montant demandé "
                    "du dossier (%(r)s)."
                )
                % {"p": euros(asked), "r": euros(application.requested_amount)},
            )
        )
    return errors
