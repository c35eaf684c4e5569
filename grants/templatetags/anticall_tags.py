"""`{% load anticall_tags %}`: Django looks for tag libraries in the app's `templatetags/` package
only, so the anti-call library (grants/anticall/templatetags.py) is registered under its old name
from here."""

from grants.anticall.templatetags import register

__all__ = ["register"]
