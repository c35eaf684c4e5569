"""Pages of applications: the applicant's, the instruction's and the committee's."""

from .applicant import application_create, application_edit, application_renew, my_applications
from .bulk import bulk_detail, bulk_export, bulk_new, bulk_retry
from .committee import committee_detail, committee_list
from .detail import (
    application_assign,
    application_detail,
    application_note,
    application_opinion,
    application_score,
    application_transition,
    attachment_download,
)
from .instruction import queue
from .partners import application_partnership, invitation_answer

__all__ = [
    "application_assign",
    "application_create",
    "application_detail",
    "application_edit",
    "application_note",
    "application_partnership",
    "invitation_answer",
    "application_opinion",
    "application_renew",
    "application_score",
    "application_transition",
    "attachment_download",
    "bulk_detail",
    "bulk_export",
    "bulk_new",
    "bulk_retry",
    "committee_detail",
    "committee_list",
    "my_applications",
    "queue",
]
