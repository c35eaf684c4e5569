"""Strict query parameters for the API's list filters (issue 11): an id or a year in a filter is an
integer, as in a body (`?call=1.5` is a 400, not a truncated lookup or a 500), and the OpenAPI
schema says so (`type: integer` with its bounds).

django-filter's `NumberFilter` reads a decimal; `StrictIntegerFilter` reads an integer.
`StrictFilterSet` uses it for every integer and key field of `filterset_fields` (and refuses a
choice filter given empty), and
`StrictFilterBackend` (the API's default filter backend) builds those filter sets from it."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.drainage import set_override

from .serializers import _INTEGER, MAX_ID


class StrictIntegerFormField(forms.IntegerField):
    """Django's IntegerField accepts `1.0`; this one takes digits only."""

    default_error_messages = {"invalid": _("Saisissez un nombre entier.")}

    def to_python(self, value: Any) -> int | None:
        if value in self.empty_values:
            return None
        if not _INTEGER.match(str(value).strip()):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class StrictIntegerFilter(django_filters.NumberFilter):  # type: ignore[misc]  # untyped library
    """A filter on an integer (an id by default: 1 to 2⁶³ − 1)."""

    field_class = StrictIntegerFormField

    def __init__(self, *args: Any, min_value: int = 1, max_value: int = MAX_ID, **kwargs: Any):
        super().__init__(*args, min_value=min_value, max_value=max_value, **kwargs)
        schema: dict[str, Any] = {"type": "integer", "minimum": min_value, "maximum": max_value}
        if kwargs.get("label"):
            schema["description"] = kwargs["label"]
        set_override(self, "field", schema)


def year_filter(**kwargs: Any) -> StrictIntegerFilter:
    """A filter on a (fiscal) year."""
    return StrictIntegerFilter(min_value=1900, max_value=2200, **kwargs)


class StrictFilterSet(django_filters.FilterSet):  # type: ignore[misc]
    """Integer and key fields of `Meta.fields` get strict integer filters."""

    FILTER_DEFAULTS = {
        **django_filters.FilterSet.FILTER_DEFAULTS,
        **{
            field: {"filter_class": StrictIntegerFilter}
            for field in (
                models.AutoField,
                models.BigAutoField,
                models.SmallAutoField,
                models.IntegerField,
                models.BigIntegerField,
                models.SmallIntegerField,
                models.PositiveIntegerField,
                models.PositiveSmallIntegerField,
                models.PositiveBigIntegerField,
            )
        },
    }

    @classmethod
    def filter_for_lookup(cls, field: Any, lookup_type: str) -> tuple[Any, dict[str, Any]]:
        # A foreign key is filtered by the id it holds, as an integer (not a ModelChoiceFilter,
        # whose schema is `number` and whose lookup loads the row).
        if isinstance(field, models.ForeignKey) and lookup_type == "exact":
            return StrictIntegerFilter, {}
        return super().filter_for_lookup(field, lookup_type)  # type: ignore[no-any-return]

    def is_valid(self) -> bool:
        """Also refuses a choice filter given empty (`?state=`): the schema's enum has no "", and
        an empty value silently meaning "any" hides a client's mistake (issue 11, ST201)."""
        valid = bool(super().is_valid())
        for name, value in self.data.items():
            choice = isinstance(self.filters.get(name), django_filters.ChoiceFilter)
            if choice and not str(value).strip():
                self.form.add_error(name, _("Choisissez une valeur de la liste."))
                valid = False
        return valid


class StrictFilterBackend(DjangoFilterBackend):  # type: ignore[misc]
    filterset_base = StrictFilterSet
