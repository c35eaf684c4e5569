"""Human references (AAP-2026-0042): gap-free per prefix and year, safe under concurrency."""

from django.db import transaction

from .models import ReferenceCounter


def next_reference(prefix: str, year: int, *, width: int = 4) -> str:
    with transaction.atomic():
        counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(
            prefix=prefix, year=year
        )
        counter.last += 1
        counter.save(update_fields=["last"])
        return f"{prefix}-{year}-{counter.last:0{width}d}"


def next_references(prefix: str, year: int, count: int, *, width: int = 4) -> list[str]:
    """`count` consecutive references in one locked update (bulk creation)."""
    with transaction.atomic():
        counter, _ = ReferenceCounter.objects.select_for_update().get_or_create(
            prefix=prefix, year=year
        )
        first = counter.last + 1
        counter.last += count
        counter.save(update_fields=["last"])
        return [f"{prefix}-{year}-{n:0{width}d}" for n in range(first, first + count)]
