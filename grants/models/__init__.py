"""Grants models, one module per area: applications and instruction, anti-call sourcing and
prototyping, call-for-solutions ballots and allocation."""

from ..anticall.models import Candidacy, CandidacyState, CoachingEntry, PrototypeDeliverable
from ..solutions.models import AllocationRun, Ballot, BallotChoice, PanelAssessment
from .applications import (
    DECIDED_STATES,
    MONEY,
    OPEN_STATES,
    Application,
    ApplicationAttachment,
    ApplicationKind,
    ApplicationState,
    ApplicationStateCount,
    ApplicationYear,
    AssignmentRule,
    BudgetItem,
    CommitteeSession,
    CompletionRequest,
    Indicator,
    InstructorNote,
    Objective,
    PartnerOpinion,
    Score,
    attachment_upload_to,
)
from .bulk import BulkAction, BulkActionItem

__all__ = [
    "DECIDED_STATES",
    "MONEY",
    "OPEN_STATES",
    "AllocationRun",
    "Application",
    "ApplicationAttachment",
    "ApplicationKind",
    "ApplicationState",
    "ApplicationStateCount",
    "ApplicationYear",
    "AssignmentRule",
    "Ballot",
    "BallotChoice",
    "BudgetItem",
    "BulkAction",
    "BulkActionItem",
    "Candidacy",
    "CandidacyState",
    "CoachingEntry",
    "CommitteeSession",
    "CompletionRequest",
    "Indicator",
    "InstructorNote",
    "Objective",
    "PanelAssessment",
    "PartnerOpinion",
    "PrototypeDeliverable",
    "Score",
    "attachment_upload_to",
]
