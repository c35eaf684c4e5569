"""Never a 500 on any file: a corpus of malformed files, each read by every kind of import, ends
with a report (the batch) or a clear refusal (DomainError on the file); the same through the
upload page (200/302/400 with the message); and a hypothesis test feeding generated files."""

from __future__ import annotations

import csv
import io
import random
import zipfile

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import DomainError
from core.tabular import reader
from core.tabular.spreadsheets import BOMB_MIN
from reporting.imports import services
from reporting.models import ImportBatch

KINDS = [("grants", {"strict": True}), ("grants", {"strict": False}), ("organisations", {})]
KINDS += [("qpv", {}), ("communes", {})]

SCDL_HEADER = (
    "nomAttribuant;idAttribuant;dateConvention;referenceDecision;nomBeneficiaire;idBeneficiaire;"
    "rnaBeneficiaire;objet;montant;nature;conditionsVersement;datesPeriodeVersement;idRAE;"
    "notificationUE;pourcentageSubvention;dispositifAide"
)
SCDL_ROW = (
    "Département de Maine-et-Loire;22490001900015;2023-03-14;DEL-2023-114;Le Jardin de Cocagne;"
    "42358990000027;W491002345;Chantier d'insertion maraîchage;12500.00;aide en numéraire;unique;"
    "2023-04-01;;non;1;Insertion"
)


def xlsx(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """An archive that looks like an XLSX and inflates its sheet 1 000 times."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"<" + b"0" * (BOMB_MIN * 2))
    return buffer.getvalue()


def truncated_xlsx() -> bytes:
    data = xlsx([["nom", "siret"], ["Asso", "42358990000027"]])
    return data[: len(data) // 2]


def wide_csv(columns: int) -> bytes:
    return (";".join(f"c{i}" for i in range(columns)) + "\n" + ";" * (columns - 1) + "\n").encode()


CORPUS: dict[str, tuple[str, bytes]] = {
    "binary": ("donnees.csv", random.Random(13).randbytes(20_000)),
    "binary-no-nul": ("donnees.csv", bytes(range(1, 32)) * 500),
    "empty": ("vide.csv", b""),
    "only-spaces": ("vide.csv", b"   \n\n \r\n"),
    "only-bom": ("bom.csv", b"\xef\xbb\xbf"),
    "bom-header-only": ("bom.csv", b"\xef\xbb\xbf" + SCDL_HEADER.encode() + b"\r\n"),
    "one-huge-line": ("enorme.csv", b"a;" * (reader.MAX_LINE_BYTES // 2 + 10)),
    "huge-cell": ("cellule.csv", b"nom;siret\n" + b"x" * 300_000 + b";1\n"),
    "unterminated-quote": ("guillemet.csv", b'nom;siret\n"Asso;1\n' + b"y;2\n" * 40_000),
    "nul-after-sample": (
        "nul.csv",
        (SCDL_HEADER + "\n" + (SCDL_ROW + "\n") * 800).encode() + b"\x00\x00;\n",
    ),
    "cp1252": ("ancien.csv", (SCDL_HEADER + "\n" + SCDL_ROW + "\n").encode("cp1252")),
    "mixed-encodings": (
        "melange.csv",
        (SCDL_HEADER + "\n" + SCDL_ROW + "\n").encode() + SCDL_ROW.encode("cp1252") + b"\n",
    ),
    "invalid-bytes": ("octets.csv", (SCDL_HEADER + "\n").encode() + b"\x81\x8d\x90;\x9d\n"),
    "utf16-no-bom": ("utf16.csv", (SCDL_HEADER + "\n").encode("utf-16-le")),
    "utf16-bom": ("utf16.csv", (SCDL_HEADER + "\n" + SCDL_ROW + "\n").encode("utf-16")),
    "old-mac-lines": ("mac.csv", (SCDL_HEADER + "\r" + SCDL_ROW + "\r").encode()),
    "10000-columns": ("large.csv", wide_csv(10_000)),
    "10000-columns-xlsx": ("large.xlsx", xlsx([[f"c{i}" for i in range(10_000)], [1]])),
    "duplicate-headers": ("doublon.csv", b"nom;siret;siret;nom\nA;1;2;B\n"),
    "formulas": ("formules.xlsx", xlsx([["nom", "montant"], ["Asso", "=1/0"], ["B", "=SUM(A1)"]])),
    "zip-bomb-as-xlsx": ("bombe.xlsx", zip_bomb()),
    "truncated-xlsx": ("coupe.xlsx", truncated_xlsx()),
    "zip-not-a-workbook": ("archive.xlsx", b"PK\x03\x04" + b"\x00" * 200),
    "pdf": ("scan.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
    "xls": ("ancien.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
    "xlsx-named-but-csv": ("faux.xlsx", b"nom;siret\nA;1\n"),
    "one-column": ("une.csv", b"nom\nAsso\n"),
    "header-only-separators": ("seps.csv", b";;;;\n;;\n"),
}


def run(user, kind: str, options: dict, name: str, data: bytes) -> ImportBatch | DomainError:
    upload = SimpleUploadedFile(name, data)
    try:
        return services.import_check(actor=user, kind=kind, file=upload, options=options)
    except DomainError as exc:
        return exc


def assert_report_or_refusal(outcome: ImportBatch | DomainError) -> None:
    if isinstance(outcome, DomainError):
        assert outcome.field in ("file", "sheet")
        assert str(outcome.message).strip()
        assert str(outcome.message) != str(services.UNEXPECTED)
        return
    report = outcome.report
    assert report["error_count"] or report["row_count"]
    assert str(services.UNEXPECTED) not in str(report["errors"])


@pytest.mark.parametrize("case", sorted(CORPUS))
@pytest.mark.parametrize(("kind", "options"), KINDS)
def test_every_malformed_file_ends_with_a_report_or_a_refusal(manager, case, kind, options):
    name, data = CORPUS[case]
    assert_report_or_refusal(run(manager, kind, options, name, data))


def refusal(manager, case: str, kind: str = "grants") -> str:
    name, data = CORPUS[case]
    outcome = run(manager, kind, {"strict": True}, name, data)
    assert isinstance(outcome, DomainError), outcome.report
    return str(outcome.message)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("binary", "contenu binaire"),
        ("binary-no-nul", "contenu binaire"),
        ("empty", "vide"),
        ("only-bom", "vide"),
        ("one-huge-line", "dépasse 1 Mo"),
        ("10000-columns", "10000 colonnes"),
        ("10000-columns-xlsx", "colonnes, au-delà de la limite de 500"),
        ("zip-bomb-as-xlsx", "anormalement compressé"),
        ("truncated-xlsx", "endommagé"),
        ("xlsx-named-but-csv", "mal renommé"),
        ("utf16-no-bom", "contenu binaire"),
    ],
)
def test_refusals_say_why(manager, case, words):
    assert words in refusal(manager, case)


def errors_of(batch: ImportBatch) -> str:
    return " | ".join(e["message"] for e in batch.report["errors"])


def warnings_of(batch: ImportBatch) -> str:
    return " | ".join(e["message"] for e in batch.report["warnings"])


def test_mixed_encodings_name_the_lines_read_as_windows_1252(manager):
    name, data = CORPUS["mixed-encodings"]
    batch = run(manager, "grants", {"strict": True}, name, data)
    assert batch.report["file"]["encoding"] == "UTF-8 et CP1252 (mélangés)"
    assert "lues en Windows-1252 (lignes 3 du fichier)" in warnings_of(batch)
    assert batch.row_count == 2


def test_invalid_bytes_are_named(manager):
    name, data = CORPUS["invalid-bytes"]
    batch = run(manager, "grants", {"strict": True}, name, data)
    assert "ni en UTF-8 ni en Windows-1252" in warnings_of(batch)
    assert "lignes 2 du fichier" in warnings_of(batch)


def test_a_late_mixed_line_is_not_a_500_through_the_page(client, manager):
    """The issue's crash: UTF-8 for the first 256 KB, then one Windows-1252 line."""
    body = SCDL_HEADER + "\n" + (SCDL_ROW + "\n") * 2000
    data = body.encode() + SCDL_ROW.replace("DEL-2023-114", "DEL-2023-999").encode("cp1252")
    client.force_login(manager)
    response = client.post(
        reverse("reporting:import_new", args=["grants"]),
        {"file": SimpleUploadedFile("cd49.csv", data), "strict": "1"},
    )
    assert response.status_code == 302
    batch = ImportBatch.objects.latest("pk")
    assert batch.report["file"]["encoding"] == "UTF-8 et CP1252 (mélangés)"
    assert "lignes 2002 du fichier" in warnings_of(batch)


def test_duplicate_headers_and_unterminated_quotes_are_reported(manager):
    name, data = CORPUS["duplicate-headers"]
    batch = run(manager, "organisations", {}, name, data)
    assert "apparaît deux fois" in errors_of(batch)
    name, data = CORPUS["unterminated-quote"]
    batch = run(manager, "organisations", {}, name, data)
    assert "mal formé" in errors_of(batch)


def test_formulas_without_values_are_reported(manager):
    name, data = CORPUS["formulas"]
    batch = run(manager, "organisations", {}, name, data)
    assert "2 formule(s) enregistrée(s) sans valeur calculée" in warnings_of(batch)


def test_one_cell_per_line_gets_a_separator_hint(manager):
    data = b"nomBeneficiaire:montant\nLes Amis de Belleville:1200\n"
    batch = run(manager, "grants", {"strict": False}, "f.csv", data)
    assert "une seule cellule" in " ".join(batch.report["hints"])


@pytest.mark.parametrize("case", ["binary", "one-huge-line", "zip-bomb-as-xlsx", "formulas"])
def test_the_upload_page_answers_with_the_message(client, manager, case):
    name, data = CORPUS[case]
    client.force_login(manager)
    response = client.post(
        reverse("reporting:import_new", args=["grants"]),
        {"file": SimpleUploadedFile(name, data), "strict": "0"},
    )
    assert response.status_code in (302, 400)
    if response.status_code == 400:
        assert 'class="errorlist' in response.content.decode()


# --------------------------------------------------------------------------- generated files

_TEXT = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12)
_CELL = st.one_of(
    _TEXT,
    st.sampled_from(["NA", "néant", "-", "1 234,56", "7,86E+13", "2023", "31/02/2023", '"']),
    st.from_regex(r"\d{9,14}", fullmatch=True),
)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from([SCDL_HEADER.split(";"), ["nom", "siret", "rna", "email"]]))
    header = draw(st.permutations(header))
    rows = draw(st.lists(st.lists(_CELL, max_size=len(header) + 2), max_size=8))
    delimiter = draw(st.sampled_from([";", ",", "\t", "|"]))
    text = io.StringIO()
    writer = csv.writer(
        text, delimiter=delimiter, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))
    )
    writer.writerow(header)
    writer.writerows(rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    data = text.getvalue().encode(encoding, errors="replace")
    if draw(st.booleans()):  # damage: cut, or insert bytes
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=20)) + data[at:]
    return data


@st.composite
def xlsx_files(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.lists(_CELL, max_size=6), min_size=0, max_size=6))
    data = xlsx([["nom", "siret", "montant"], *rows])
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at + 1 :]
    return data


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(KINDS),
    file=st.one_of(
        csv_files().map(lambda d: ("f.csv", d)),
        xlsx_files().map(lambda d: ("f.xlsx", d)),
        st.binary(max_size=2000).map(lambda d: ("f.csv", d)),
    ),
)
def test_generated_files_end_with_a_report_or_a_refusal(manager, kind, file):
    name, data = file
    assert_report_or_refusal(run(manager, kind[0], kind[1], name, data))
