"""The release digest that prefixes production's cache keys (config/release.py, issue 17)."""

from pathlib import Path

from config.release import code_digest, release


def write(root: Path, name: str, text: str) -> None:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_changed_template_or_view_makes_another_release(tmp_path: Path) -> None:
    write(tmp_path, "grants/templates/grants/page.html", "<p>{{ a }}</p>")
    write(tmp_path, "grants/views.py", "X = 1\n")
    first = code_digest(tmp_path)
    assert code_digest(tmp_path) == first

    write(tmp_path, "grants/templates/grants/page.html", "<p>{{ b }}</p>")
    second = code_digest(tmp_path)
    write(tmp_path, "grants/views.py", "X = 2\n")
    third = code_digest(tmp_path)
    assert len({first, second, third}) == 3


def test_tests_docs_and_data_are_not_the_release(tmp_path: Path) -> None:
    write(tmp_path, "grants/views.py", "X = 1\n")
    first = code_digest(tmp_path)
    write(tmp_path, "tests/test_x.py", "def test(): pass\n")
    write(tmp_path, "docs/domain.md", "# words\n")
    write(tmp_path, ".venv/lib/site.py", "import os\n")
    write(tmp_path, "staticfiles/app.css", "p{}")
    assert code_digest(tmp_path) == first


def test_an_operator_may_name_the_release(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLURIEL_RELEASE", "v2026.12")
    assert release(tmp_path) == "v2026.12"
    monkeypatch.delenv("PLURIEL_RELEASE")
    assert release(tmp_path) == code_digest(tmp_path)
