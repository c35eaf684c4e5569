"""core.compiled_reads: a values() queryset compiled once, run again with other keys, returns
what the queryset itself returns (types converted as Django converts them: decimals, dates and
times on SQLite). Run on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.base import ContentFile

from core.compiled_reads import CompiledRead
from core.models import QPV
from grants.models import ApplicationAttachment, ApplicationYear, Indicator, Objective

from .. import factories as f


def _indicators(pk):
    return Indicator.objects.filter(application_id=pk).values("label", "target", "unit")


def _attachments(pk):
    return ApplicationAttachment.objects.filter(application_id=pk).values(
        "pk", "title", "uploaded_at"
    )


def _years(pk):
    return (
        ApplicationYear.objects.filter(application_id=pk)
        .order_by("fiscal_year")
        .values("fiscal_year", "requested_amount", "approved_amount")
    )


def _qpvs(pk):
    return QPV.objects.filter(applications=pk).values("name", "code")


@pytest.mark.django_db
def test_rows_are_those_of_the_queryset_for_every_key():
    first, second, empty = (f.ApplicationFactory() for _ in range(3))
    for app, n in ((first, 2), (second, 3)):
        for i in range(n):
            Indicator.objects.create(
                application=app, label=f"Indicateur {i}", target=Decimal(f"{i}.25"), unit="pers."
            )
            ApplicationYear.objects.create(
                application=app,
                fiscal_year=2030 - i,
                requested_amount=Decimal("1000.10"),
                approved_amount=Decimal("900.00") if i else None,
            )
            ApplicationAttachment.objects.create(
                application=app, title=f"Pièce {i}", file=ContentFile(b"x", name="x.pdf")
            )
        app.qpvs.add(f.QPVFactory())
    Objective.objects.create(application=second, text="Un second objectif")
    for build in (_indicators, _attachments, _years, _qpvs):
        read = CompiledRead(build)
        for app in (first, second, empty, first):
            assert read(app.pk) == list(build(app.pk)), build.__name__
    indicator = CompiledRead(_indicators)(second.pk)[1]
    assert indicator["target"] == Decimal("1.25") and isinstance(indicator["target"], Decimal)
    attachment = CompiledRead(_attachments)(first.pk)[0]
    assert (
        attachment["uploaded_at"]
        == ApplicationAttachment.objects.get(pk=attachment["pk"]).uploaded_at
    )


def test_the_key_must_be_one_parameter():
    with pytest.raises(ValueError):
        CompiledRead(lambda pk: Objective.objects.values("text"))._compile("default")


# ----------------------------------------------------------- the reads every signed-in page makes


@pytest.mark.django_db
def test_the_signed_in_user_is_the_one_the_orm_reads():
    """EmailBackend.get_user (django.contrib.auth.get_user on every request) builds the user the
    ORM builds, every concrete field equal and typed alike; None where ModelBackend gives None."""
    from django.contrib.auth.backends import ModelBackend
    from django.utils import timezone

    from core.auth import EmailBackend
    from core.models import User

    user = f.UserFactory(language="en")
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    inactive = f.UserFactory(is_active=False)
    backend = EmailBackend()
    for session_value in (str(user.pk), user.pk):
        mine, orm = backend.get_user(session_value), ModelBackend().get_user(session_value)
        assert (
            isinstance(mine, User) and mine._state.adding is False and mine._state.db == "default"
        )
        for field in User._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(orm, field.attname), field.name
            assert type(getattr(mine, field.attname)) is type(getattr(orm, field.attname))
        assert mine.get_session_auth_hash() == orm.get_session_auth_hash()
    for missing in (str(inactive.pk), str(user.pk + 10_000), "abc", "", None, str(2**70)):
        assert backend.get_user(missing) is None, missing


@pytest.mark.django_db
def test_roles_memberships_and_unread_count_as_the_orm_reads_them():
    from django.utils import timezone

    from core.context_processors import navigation, unread_count
    from core.models import Membership, Notification, Role, RoleAssignment
    from core.permissions import ASSIGNMENT_ROWS, MEMBERSHIP_ROWS, organisation_ids_of, roles_of

    staff, member, nobody = (f.UserFactory() for _ in range(3))
    qpvs = [f.QPVFactory() for _ in range(2)]
    f.give_role(staff, Role.INSTRUCTOR, territories=qpvs)
    f.give_role(staff, Role.FINANCE_OFFICER)
    for _ in range(2):
        f.add_member(member, f.OrganisationFactory())
    for read in (None, None, timezone.now()):
        Notification.objects.create(user=staff, title="t", read_at=read)
    Notification.objects.create(user=member, title="t", read_at=timezone.now())
    for user in (staff, member, nobody):
        assert sorted(ASSIGNMENT_ROWS(user.pk), key=lambda r: (r["pk"], r["territories"] or 0)) == (
            sorted(
                RoleAssignment.objects.filter(user=user).values(
                    "pk", "role", "calls_only", "funder_id", "territories"
                ),
                key=lambda r: (r["pk"], r["territories"] or 0),
            )
        )
        assert sorted(r["organisation_id"] for r in MEMBERSHIP_ROWS(user.pk)) == sorted(
            Membership.objects.filter(user=user).values_list("organisation_id", flat=True)
        )
        assert unread_count(user) == user.notifications.filter(read_at__isnull=True).count()
    assert unread_count(staff) == 2 and unread_count(member) == 0
    assert roles_of(staff) == {Role.INSTRUCTOR, Role.FINANCE_OFFICER}
    assert organisation_ids_of(member) == set(
        Membership.objects.filter(user=member).values_list("organisation_id", flat=True)
    )
    assert roles_of(member) == {Role.APPLICANT} and roles_of(nobody) == set()

    class Request:
        pass

    request = Request()
    request.user = staff
    nav = navigation(request)["nav"]
    assert nav["unread"] == 2 and nav["is_instructor"] and nav["is_finance"]
    assert not nav["is_applicant"]


@pytest.mark.django_db
def test_a_text_key_and_instances_as_the_orm_builds_them():
    """TEXT_PLACEHOLDER: a text key (the API token's digest); instance() as the ORM's get()."""
    from datetime import timedelta

    from django.utils import timezone

    from core.compiled_reads import TEXT_PLACEHOLDER, concrete_values
    from core.models_security import PersonalApiToken

    user = f.UserFactory()
    tokens = [
        PersonalApiToken.objects.create(
            user=user, name=f"t{i}", digest=f"{i:064x}", hint="plr_ab", expires_at=timezone.now()
        )
        for i in range(2)
    ]
    tokens[1].last_used_at = timezone.now() - timedelta(hours=1)
    tokens[1].save()
    read = CompiledRead(
        lambda digest: concrete_values(PersonalApiToken.objects.filter(digest=digest)),
        placeholder=TEXT_PLACEHOLDER,
    )
    for token in (*tokens, tokens[0]):
        mine, orm = read.instance(token.digest), PersonalApiToken.objects.get(pk=token.pk)
        assert isinstance(mine, PersonalApiToken) and not mine._state.adding
        for field in PersonalApiToken._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(orm, field.attname), field.name
    assert read.instance("0" * 63 + "9") is None and read("nothing") == []
    with pytest.raises(ValueError):  # an int placeholder where the key is text: not found
        CompiledRead(
            lambda digest: PersonalApiToken.objects.filter(digest=digest).values("pk")
        )._compile("default")
