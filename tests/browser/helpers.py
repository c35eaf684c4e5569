"""Helpers of the classic-call browser tests: screenshots for a human look, keyboard travel, text."""

from __future__ import annotations

import os
import re
from pathlib import Path

# browser-shots/ at the top of the repository (git-ignored), or PLURIEL_SHOTS_DIR.
SHOTS_DIR = Path(
    os.environ.get("PLURIEL_SHOTS_DIR", Path(__file__).resolve().parents[2] / "browser-shots")
)


def screenshot(page, name: str) -> None:
    """A full-page PNG in browser-shots/ (git-ignored) to look at the page as a person would."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS_DIR / f"{name}.png"), full_page=True)


def squash(text: str) -> str:
    """Collapse every kind of space (French amounts use no-break spaces) into one plain space."""
    return re.sub(r"\s+", " ", text).strip()


def is_focused(locator) -> bool:
    return bool(locator.evaluate("element => element === document.activeElement"))


def tab_until(page, locator, *, max_presses: int = 150) -> int:
    """Press Tab until `locator` has the focus; returns the number of presses (fails past max_presses)."""
    for presses in range(1, max_presses + 1):
        page.keyboard.press("Tab")
        if is_focused(locator):
            return presses
    raise AssertionError(f"{locator} never received the focus after {max_presses} Tab presses")
