"""The CRM schema as typed SQLAlchemy 2 entities, one module per group; import them from here.

Timestamps are naive UTC throughout: SQLite has no time-zone type and mixing aware and naive
values is the classic way to shift a timeline by hours. Activities and predictions are
append-only by design: nothing in the services updates or deletes them.
"""

from crm_core.entities.audit import AuditChainHead, AuditEvent
from crm_core.entities.base import DEAL_STAGE_ORDER, MONEY, NAMING_CONVENTION, Base, Channel, DealStage
from crm_core.entities.customers import (
    Account,
    Consent,
    ConsentStatus,
    Contact,
    ContactChange,
    CustomFieldDefinition,
    CustomFieldType,
    Erasure,
    ErasureReason,
)
from crm_core.entities.identity import ApiToken, LoginAttempt, LoginThrottle, Team, User
from crm_core.entities.intelligence import (
    CurrentScore,
    ModelDescription,
    PopulationState,
    Prediction,
    ProductRecommendation,
    ScoreColumns,
    Segment,
    SegmentMember,
    ShadowPrediction,
    WriteBackRun,
)
from crm_core.entities.jobs import FINISHED, SCHEDULED_BY, Job, JobStatus, RescoreRequest, Schedule
from crm_core.entities.sales import Activity, Deal, DealStageChange, Order, OrderLine, Product, Ticket

__all__ = [
    "DEAL_STAGE_ORDER",
    "FINISHED",
    "MONEY",
    "NAMING_CONVENTION",
    "SCHEDULED_BY",
    "Account",
    "Activity",
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "Channel",
    "Consent",
    "ConsentStatus",
    "Contact",
    "ContactChange",
    "CurrentScore",
    "CustomFieldDefinition",
    "CustomFieldType",
    "Deal",
    "DealStage",
    "DealStageChange",
    "Erasure",
    "ErasureReason",
    "Job",
    "JobStatus",
    "LoginAttempt",
    "LoginThrottle",
    "ModelDescription",
    "Order",
    "OrderLine",
    "PopulationState",
    "Prediction",
    "Product",
    "ProductRecommendation",
    "RescoreRequest",
    "Schedule",
    "ScoreColumns",
    "Segment",
    "SegmentMember",
    "ShadowPrediction",
    "Team",
    "Ticket",
    "User",
    "WriteBackRun",
]
