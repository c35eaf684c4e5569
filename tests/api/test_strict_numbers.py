"""Strict numbers in every API input (issue 11): an id or a count is an integer (`1.5`, `1.0`,
`true` refused), an amount has at most two decimals, no sign on zero, no NaN or Infinity. A walk
over every serializer of the apps fails on a writable number field that is not one of the shared
strict fields of core.serializers; then the rules are tried on one endpoint of each app."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from django.urls import get_resolver
from rest_framework import serializers

from core.serializers import StrictDecimalField, StrictIntegerField, StrictPrimaryKeyRelatedField

OUR_APPS = ("core", "calls", "contracts", "grants", "cpo", "finance", "reporting")


def _serializer_classes() -> list[type[serializers.BaseSerializer[Any]]]:
    get_resolver().url_patterns  # noqa: B018  (imports every api module)
    for app in OUR_APPS:
        package = importlib.import_module(app)
        for info in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations" not in info.name and ".management" not in info.name:
                importlib.import_module(info.name)
    found = []
    todo: list[type[Any]] = [serializers.Serializer]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in OUR_APPS and not inspect.isabstract(sub):
                found.append(sub)
    return found


def _loose(field: serializers.Field[Any, Any, Any, Any], path: str) -> list[str]:
    if getattr(field, "read_only", False):
        return []
    if isinstance(field, serializers.ListField):
        return _loose(field.child, f"{path}[]")
    if isinstance(field, serializers.ManyRelatedField):
        return _loose(field.child_relation, f"{path}[]")
    if isinstance(field, serializers.ListSerializer):
        return _loose(field.child, f"{path}[]")
    if isinstance(field, serializers.BaseSerializer):
        return [m for n, f in field.fields.items() for m in _loose(f, f"{path}.{n}")]
    checks = (
        (serializers.IntegerField, StrictIntegerField),
        (serializers.DecimalField, StrictDecimalField),
        (serializers.PrimaryKeyRelatedField, StrictPrimaryKeyRelatedField),
    )
    for loose, strict in checks:
        if isinstance(field, loose) and not isinstance(field, strict):
            return [f"{path} ({type(field).__name__})"]
    if isinstance(field, serializers.FloatField):
        return [f"{path} (FloatField)"]
    return []


def test_every_writable_number_field_is_strict():
    classes = _serializer_classes()
    assert len(classes) > 80
    loose = []
    for cls in classes:
        try:
            fields = cls().fields
        except Exception:  # a serializer that needs arguments: its declared fields
            fields = cls._declared_fields
        for name, field in fields.items():
            loose += _loose(field, f"{cls.__module__}.{cls.__name__}.{name}")
    assert sorted(set(loose)) == [], "\n".join(sorted(set(loose)))


class TestFields:
    @pytest.mark.parametrize("value", [1.5, "1.5", 1.0, "1.0", True, "1e3", " ", None, [1], "٣"])
    def test_integer_refuses_what_is_not_an_integer(self, value):
        field = StrictIntegerField()
        with pytest.raises(serializers.ValidationError):
            field.run_validation(value)

    @pytest.mark.parametrize("value", [3, "3", "-3"])
    def test_integer_accepts_integers(self, value):
        assert StrictIntegerField().run_validation(value) == int(value)

    def test_integer_is_bounded_to_64_bits(self):
        with pytest.raises(serializers.ValidationError):
            StrictIntegerField().run_validation(2**63)

    @pytest.mark.parametrize(
        "value", ["-0", "-0.00", -0.0, "NaN", "Infinity", "-Infinity", "1.234", "1e3", True, "x"]
    )
    def test_amount_refuses(self, value):
        from core.serializers import MoneyField

        with pytest.raises(serializers.ValidationError):
            MoneyField().run_validation(value)

    @pytest.mark.parametrize("value", ["0", "0.00", "12.5", 12.5, 3, "1250.50"])
    def test_amount_accepts(self, value):
        from core.serializers import MoneyField

        assert MoneyField().run_validation(value) == __import__("decimal").Decimal(str(value))
