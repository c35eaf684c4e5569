"""City contracts at scale: the contract pages over 1 000 contracts' worth of commitments and
10 years of observatory indicators (goal ≤ 2 s each).

Run:  .venv/bin/python bench/bench_contracts.py                     (SQLite file in /tmp)
      DATABASE_URL=postgres://postgres@127.0.0.1:5432/pluriel_bench_contracts \
          .venv/bin/python bench/bench_contracts.py

Setup (not measured) builds, with bulk inserts, 1 000 contracts of 7 years, each with 5
signatories, 4 parts, 3 QPVs and 4 commitments per signatory and year (140 000 commitments in
all), 3 indicator codes per territory (QPVs and EPCI) with 10 yearly values (120 000 values), and
one *big* contract that alone holds as many commitments as the 1 000 (the worst case of one
page). The reference run measures the same pages on a contract of normal size (140 commitments):
the ratio shows how the pages scale with the data, the absolute time is checked against the goal.

Measured: the contract list (1 000 rows), the contract page (follow-up: promised / committed /
paid per signatory, part, QPV, year), the observatory page (one SVG chart per indicator), the
steering agenda and the annual report PDF — median of --runs after one warm-up, with SQL queries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GOAL_SECONDS = 2.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault(
        "DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='bench-contracts-')}/bench.sqlite3"
    )
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    import django

    django.setup()
    from django.test.utils import setup_databases, setup_test_environment

    setup_test_environment()
    setup_databases(verbosity=0, interactive=False)
    started = time.monotonic()
    normal, big = build(args.contracts)
    print(f"setup: {time.monotonic() - started:.1f} s ({os.environ['DATABASE_URL'].split(':')[0]})")
    measure(normal, big, args.runs)


def build(n_contracts: int):  # type: ignore[no-untyped-def]
    from contracts.models import (
        Commitment,
        Contract,
        Indicator,
        IndicatorValue,
        Part,
        Signatory,
    )
    from core.models import QPV, Role, RoleAssignment, User

    qpvs = QPV.objects.bulk_create(
        [QPV(code=f"QN{i:05d}B", name=f"Quartier {i}", commune_insee="13055") for i in range(3000)]
    )
    contracts = Contract.objects.bulk_create(
        [
            Contract(
                name=f"Contrat {i}",
                epci_name=f"EPCI {i}",
                first_year=2024,
                last_year=2030,
                state="signed",
            )
            for i in range(n_contracts + 1)
        ]
    )
    through = Contract.qpvs.through
    through.objects.bulk_create(
        [
            through(contract_id=c.pk, qpv_id=qpvs[(i * 3 + k) % len(qpvs)].pk)
            for i, c in enumerate(contracts)
            for k in range(3)
        ]
    )
    parts = Part.objects.bulk_create(
        [
            Part(contract=c, kind="local", title=f"Volet {k}", position=k)
            for c in contracts
            for k in range(4)
        ]
    )
    sigs = Signatory.objects.bulk_create(
        [
            Signatory(contract=c, name=f"Signataire {k}", role="other")
            for c in contracts
            for k in range(5)
        ]
    )
    parts_of: dict[int, list] = {}
    for p in parts:
        parts_of.setdefault(p.contract_id, []).append(p)
    sigs_of: dict[int, list] = {}
    for s in sigs:
        sigs_of.setdefault(s.contract_id, []).append(s)
    big = contracts[-1]

    def commitments(contract, copies: int):  # type: ignore[no-untyped-def]
        for _copy in range(copies):
            for year in range(2024, 2031):
                for s in sigs_of[contract.pk]:
                    for p in parts_of[contract.pk]:
                        yield Commitment(
                            contract=contract,
                            signatory=s,
                            part=p,
                            year=year,
                            kind="specific" if p.position % 2 else "common_law",
                            amount=Decimal("1000.00"),
                        )

    rows = [c for contract in contracts[:-1] for c in commitments(contract, 1)]
    rows += list(commitments(big, n_contracts))
    Commitment.objects.bulk_create(rows, batch_size=5000)
    indicators = []
    for i, contract in enumerate(contracts):
        territories = [None, *(qpvs[(i * 3 + k) % len(qpvs)].pk for k in range(3))]
        for code in ("chomage", "reussite", "revenu"):
            for qpv_id in territories:
                indicators.append(
                    Indicator(
                        contract=contract,
                        part=parts_of[contract.pk][0],
                        qpv_id=qpv_id,
                        code=code,
                        label=code.title(),
                        target=Decimal("10"),
                        target_year=2030,
                    )
                )
    indicators = Indicator.objects.bulk_create(indicators, batch_size=5000)
    IndicatorValue.objects.bulk_create(
        [
            IndicatorValue(indicator=i, year=2017 + y, value=Decimal(20 - y))
            for i in indicators
            for y in range(10)
        ],
        batch_size=5000,
    )
    manager = User.objects.create_user(email="bench@example.org", password="x")
    RoleAssignment.objects.create(user=manager, role=Role.PROGRAMME_MANAGER)
    return contracts[0], big


def measure(normal, big, runs: int) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from contracts.models import Commitment, IndicatorValue
    from core.models import User
    from reporting.contracts.selectors import steering_agenda

    client = Client()
    client.force_login(User.objects.get(email="bench@example.org"))

    def page(url: str):  # type: ignore[no-untyped-def]
        def run() -> int:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            return len(response.content)

        return run

    def timed(fn) -> tuple[float, int]:  # type: ignore[no-untyped-def]
        fn()
        times = []
        with CaptureQueriesContext(connection) as queries:
            fn()
        n = len(queries)
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times), n

    print(
        f"commitments: {Commitment.objects.count()} "
        f"(big contract: {Commitment.objects.filter(contract=big).count()}), "
        f"indicator values: {IndicatorValue.objects.count()}"
    )
    cases = [
        ("contract list", page("/contrats/"), page("/contrats/")),
        ("contract page", page(f"/contrats/{normal.pk}/"), page(f"/contrats/{big.pk}/")),
        (
            "observatory",
            page(f"/contrats/{normal.pk}/observatoire/"),
            page(f"/contrats/{big.pk}/observatoire/"),
        ),
        ("steering agenda", lambda: steering_agenda(normal), lambda: steering_agenda(big)),
        (
            "annual report PDF",
            page(f"/contrats/{normal.pk}/rapport-annuel/2026.pdf"),
            page(f"/contrats/{big.pk}/rapport-annuel/2026.pdf"),
        ),
    ]
    worst = 0.0
    print(f"{'page':<20}{'reference (s)':>15}{'1 000× (s)':>12}{'ratio':>8}{'queries':>9}")
    for name, reference, loaded in cases:
        ref, _n = timed(reference)
        big_time, n = timed(loaded)
        worst = max(worst, big_time)
        print(f"{name:<20}{ref:>15.3f}{big_time:>12.3f}{big_time / ref:>8.1f}{n:>9}")
    verdict = "OK" if worst <= GOAL_SECONDS else "TOO SLOW"
    print(f"worst page: {worst:.3f} s (goal ≤ {GOAL_SECONDS} s): {verdict}")


if __name__ == "__main__":
    main()
