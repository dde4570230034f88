"""Reading a contact's profile with the latest score of every model."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Contact, Prediction
from crm_core.errors import NotFoundError
from crm_core.schemas.profiles import ContactProfile, ScorePublic, present_contact
from crm_core.services.access import contact_ids_in_reach
from crm_core.unit_of_work import UnitOfWork


def get_contact_profile(uow: UnitOfWork, principal: Principal, contact_id: int) -> ContactProfile:
    """The profile a sales rep opens: the record plus the newest prediction per model.

    Records outside the caller's reach answer exactly like records that do not exist.
    """
    if contact_id not in contact_ids_in_reach(uow, principal, "contact", Action.READ, [contact_id]):
        raise NotFoundError("contact", contact_id)
    contact = uow.session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError("contact", contact_id)
    scores = latest_scores(uow, contact_id) if principal.scope("prediction", Action.READ) is not Scope.NONE else []
    return ContactProfile(contact=present_contact(contact, principal.role), scores=scores)


def latest_scores(uow: UnitOfWork, contact_id: int) -> list[ScorePublic]:
    # Newest by scoring time; ties (one batch) broken by feature timestamp, then id.
    ranked = (
        select(
            Prediction.id,
            func.row_number()
            .over(
                partition_by=Prediction.model_name,
                order_by=(
                    Prediction.scored_at.desc(),
                    Prediction.feature_timestamp.desc(),
                    Prediction.id.desc(),
                ),
            )
            .label("rank"),
        )
        .where(Prediction.contact_id == contact_id)
        .subquery()
    )
    rows = uow.session.scalars(
        select(Prediction)
        .join(ranked, ranked.c.id == Prediction.id)
        .where(ranked.c.rank == 1)
        .order_by(Prediction.model_name)
    ).all()
    return [
        ScorePublic(
            model=row.model_name,
            version=row.model_version,
            score=row.score,
            band=row.band,
            scored_at=row.scored_at,
            feature_timestamp=row.feature_timestamp,
            top_factors=row.top_factors,
        )
        for row in rows
    ]
