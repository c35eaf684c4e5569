"""How long a text typed by a person may be (issue 11): every free-text field has a limit, on the
model (`max_length`, which Django's forms, the admin and DRF's model serializers enforce) and on
every API input and web form that writes it. A text over the limit is a 400 (or a form error) in
the user's language, never stored.

Two sizes cover every field: a reason, a comment or a message is a paragraph or a few
(`SHORT_TEXT`); a description, a report, minutes or an instruction note may run to a few pages
but is never a document — documents are uploaded files (`LONG_TEXT`). The model fields that no
person types into are listed, with the reason, in tests/api/test_text_limits.py."""

from __future__ import annotations

SHORT_TEXT = 5_000
LONG_TEXT = 20_000
# A single line typed in a search box or a filter.
SEARCH_TEXT = 200
# An e-mail address (RFC 5321 path limit, as Django's EmailField) and a password typed at login.
EMAIL_TEXT = 254
PASSWORD_TEXT = 1_024
