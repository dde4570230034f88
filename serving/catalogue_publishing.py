"""Telling the CRM which models score its contacts: the catalogue's entries as the pages show them."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from crm_core.services.model_descriptions import Description, publish_descriptions
from crm_core.unit_of_work import UnitOfWork
from features.catalogue import Catalogue


def descriptions_of(catalogue: Catalogue) -> list[Description]:
    return [
        Description(
            name=entry.name,
            kind=entry.kind.value,
            title=entry.title,
            meaning=entry.meaning,
            worklist=entry.worklist,
            horizon_days=entry.horizon_days,
        )
        for entry in catalogue
    ]


def publish_catalogue(session_factory: sessionmaker[Session], catalogue: Catalogue) -> None:
    """Make the catalogue's models the ones the CRM's lists, records and segment builder offer."""
    with UnitOfWork(session_factory) as uow:
        publish_descriptions(uow, descriptions_of(catalogue))
        uow.commit()
