"""The reference the audit chain's cost is measured against: the same code with the chain taken
out (no content hash, no transaction id, no seal), as it wrote audit rows before the chain.

`--unchained` on bench_finance.py and bench_cpo.py calls `disable_chain()` before anything runs;
bench_audit_cost.py alternates both modes in one process (`chain_disabled`), which is the
comparison to trust on a shared machine (the issue's goal: within 10 %). Benches only: never
imported by the application."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def chain_disabled(disabled: bool = True) -> Iterator[None]:
    """The chain taken out for the duration of the block (when `disabled`)."""
    import core.audit
    import core.audit_chain

    if not disabled:
        yield
        return
    saved = (
        core.audit_chain.chain_prepare,
        core.audit_chain.chain_finish,
        core.audit_chain.chain_insert,
    )
    disable_chain()
    try:
        yield
    finally:
        for module in (core.audit, core.audit_chain):
            module.chain_prepare, module.chain_finish, module.chain_insert = saved  # type: ignore[assignment]


def disable_chain() -> None:
    import core.audit
    import core.audit_chain

    def prepare(values: list[dict[str, Any]]) -> int:
        for row in values:
            row["content_hash"] = ""
            row["txid"] = None
        return 0

    def finish(txid: int) -> None:
        return None

    def insert(values: list[dict[str, Any]], *, plain: bool = False) -> list[tuple[int, int]]:
        prepare(values)
        return core.audit_chain.insert_rows(values, sealed=False)

    # core.audit imported the names; AuditLog.save imports them from core.audit_chain each call.
    for module in (core.audit, core.audit_chain):
        module.chain_prepare = prepare  # type: ignore[assignment]
        module.chain_finish = finish  # type: ignore[assignment]
        module.chain_insert = insert  # type: ignore[assignment]
