"""Reference rows (funders, budget lines, QPVs, pillars, themes), staff with their roles, and the
associations with their members and documents."""

from __future__ import annotations

import datetime

from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile

from core.clock import now, today
from core.models import (
    QPV,
    BudgetLine,
    DocumentKind,
    Funder,
    Membership,
    Organisation,
    OrganisationDocument,
    Pillar,
    RoleAssignment,
    TransitionTheme,
    User,
)
from demo.context import Context
from demo.data import (
    APPLICANT_EMAIL,
    ASSOCIATIONS,
    BICS,
    BUDGET_LINES,
    EMAIL_DOMAIN,
    FISCAL_YEAR,
    FUNDERS,
    PASSWORD,
    PDF,
    PILLARS,
    QPVS,
    STAFF,
    THEMES,
    iban_for,
    rna_for,
    siret_for,
)

# --------------------------------------------------------------------------- reference rows


def load_reference_data(ctx: Context) -> None:
    for i, (name, kind) in enumerate(FUNDERS):
        # Funders publish their grants under their own SIRET (SCDL idAttribuant).
        ctx.funders[name], _ = Funder.objects.update_or_create(
            name=name, defaults={"kind": kind, "siret": siret_for(9001 + i)}
        )
    for code, label, funder in BUDGET_LINES:
        BudgetLine.objects.update_or_create(
            code=code, defaults={"label": label, "funder": ctx.funders[funder]}
        )
    for code, name, insee, commune in QPVS:
        ctx.qpvs[code], _ = QPV.objects.update_or_create(
            code=code, defaults={"name": name, "commune_insee": insee, "commune_name": commune}
        )
    for code, label in PILLARS:
        ctx.pillars[code], _ = Pillar.objects.update_or_create(code=code, defaults={"label": label})
    for code, label in THEMES:
        ctx.themes[code], _ = TransitionTheme.objects.update_or_create(
            code=code, defaults={"label": label}
        )


def load_people(ctx: Context) -> None:
    """Staff with their roles, and the associations with one member each (porteur@ holds two)."""
    password = make_password(PASSWORD)  # hashed once: the slow hasher runs once, not per user
    for person in STAFF:
        user = _user(
            person.email, person.first_name, person.last_name, password, superuser=person.superuser
        )
        assignment, _ = RoleAssignment.objects.get_or_create(
            user=user,
            role=person.role,
            defaults={"funder": ctx.funders.get(person.funder) if person.funder else None},
        )
        if person.territories:
            assignment.territories.set([ctx.qpvs[c] for c in person.territories])
        ctx.users[person.email] = user
    porteur = _user(APPLICANT_EMAIL, "Léa", "Fontaine", password)
    ctx.users[APPLICANT_EMAIL] = porteur
    for i, (name, city, postcode, insee, rep) in enumerate(ASSOCIATIONS):
        org, created = Organisation.objects.get_or_create(
            siret=siret_for(i),
            defaults={
                "name": name,
                "rna": rna_for(i),
                "city": city,
                "postcode": postcode,
                "commune_insee": insee,
                "address": f"{3 + 7 * i} rue {['des Lilas', 'de la République', 'Félix Pyat', 'Jean Jaurès'][i % 4]}",
                "email": f"contact@{_slug(name)}.example.org",
                "phone": f"04 91 {10 + i:02d} {20 + i:02d} {30 + i:02d}",
                "legal_rep_name": rep,
                "legal_rep_role": "Président·e",
                "iban": iban_for(i),
                "bic": BICS[i % len(BICS)],
            },
        )
        if created:
            _documents(org)
        ctx.organisations.append(org)
        member = (
            porteur
            if i < 2
            else _user(
                f"contact.{_slug(name)}@{EMAIL_DOMAIN}",
                rep.split()[0],
                rep.split(None, 1)[1],
                password,
            )
        )
        Membership.objects.get_or_create(user=member, organisation=org, defaults={"is_admin": True})
        ctx.members[org.pk] = member


def _user(
    email: str, first: str, last: str, password_hash: str, *, superuser: bool = False
) -> User:
    user, _ = User.objects.update_or_create(
        email=email,
        defaults={
            "first_name": first,
            "last_name": last,
            "password": password_hash,
            "is_active": True,
            "is_staff": superuser,
            "is_superuser": superuser,
            "email_verified_at": now(),
        },
    )
    return user


def _slug(name: str) -> str:
    from django.utils.text import slugify

    return slugify(name)[:40]


def _documents(org: Organisation) -> None:
    """The documents kept once on the profile and reused by every application (tell us once)."""
    for kind, title, valid_until in [
        (DocumentKind.STATUTES, "Statuts à jour", None),
        (DocumentKind.BANK_DETAILS, "RIB de l'association", None),
        (
            DocumentKind.APPROVED_ACCOUNTS,
            "Comptes 2025 approuvés en AG",
            # Valid a year ahead whenever the demo is loaded (dates elsewhere follow today).
            max(datetime.date(FISCAL_YEAR + 1, 6, 30), today() + datetime.timedelta(days=365)),
        ),
    ]:
        doc = OrganisationDocument(
            organisation=org,
            kind=kind,
            title=title,
            original_name=f"{kind}.pdf",
            size=len(PDF),
            valid_until=valid_until,
        )
        doc.file.save(f"{kind}.pdf", ContentFile(PDF), save=False)
        doc.save()
