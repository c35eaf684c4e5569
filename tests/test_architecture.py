"""`make lint` only checks what pyproject.toml lists: the layering contract (`lint-imports`) sees
the packages in its `root_packages`, mypy the ones in `files`. An app missing there (a new app
such as `finance/` or `demo/`) would escape both silently."""

import tomllib
from pathlib import Path

from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent


def _importlinter_options() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]


def _project_apps() -> set[str]:
    """Top-level Django apps that belong to this repository (not third-party ones)."""
    return {
        config.name.split(".")[0]
        for config in apps.get_app_configs()
        if Path(config.path).resolve().is_relative_to(ROOT)
        and not Path(config.path).resolve().is_relative_to(ROOT / ".venv")
    }


def test_every_project_app_is_checked_by_the_layers_contract():
    assert {"core", "calls", "grants", "cpo", "reporting"} <= _project_apps()
    root_packages = set(_importlinter_options()["root_packages"])
    missing = _project_apps() - root_packages
    assert not missing, (
        f"Add {sorted(missing)} to [tool.importlinter] root_packages in pyproject.toml "
        "(and check its place in the layers contract)."
    )
    assert "config" in root_packages


def test_every_project_app_has_a_layer():
    layers = _importlinter_options()["contracts"][0]["layers"]
    names = {
        name.strip().strip("()") for layer in layers for name in layer.replace("|", ":").split(":")
    }
    missing = _project_apps() - names
    assert not missing, f"Give {sorted(missing)} a layer in pyproject.toml's layers contract."
    assert {"core", "calls", "grants", "cpo", "finance", "reporting", "demo", "config"} <= names


def test_every_project_app_is_type_checked():
    with (ROOT / "pyproject.toml").open("rb") as f:
        files = set(tomllib.load(f)["tool"]["mypy"]["files"])
    missing = _project_apps() - files
    assert not missing, f"Add {sorted(missing)} to [tool.mypy] files in pyproject.toml."
