"""The declarative base every entity shares (with its constraint naming), the money type,
and the enums more than one group of entities uses."""

from __future__ import annotations

import enum

from sqlalchemy import (
    MetaData,
    Numeric,
)
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(14, 2)
# Quantities as sources give them: a weight (1.25 kg) or a zero-quantity line is a real line.
QUANTITY = Numeric(12, 3)
# Every record kind may carry `external_id`: its id in the system it came from, unique per kind.
# Imports match on it (a re-import changes nothing) and resolve references by it.
EXTERNAL_ID_LENGTH = 120


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Channel(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    CHAT = "chat"
    SOCIAL = "social"
    WEB = "web"
    IN_PERSON = "in-person"


class DealStage(enum.StrEnum):
    """Pipeline stages; `ORDER` gives their position so reports and transitions can rank them."""

    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


DEAL_STAGE_ORDER: dict[DealStage, int] = {
    DealStage.PROSPECTING: 1,
    DealStage.QUALIFICATION: 2,
    DealStage.PROPOSAL: 3,
    DealStage.NEGOTIATION: 4,
    DealStage.CLOSED_WON: 5,
    DealStage.CLOSED_LOST: 5,
}
