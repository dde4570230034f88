"""Reading a contact's profile with the latest score of every model."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Contact, Prediction
from crm_core.errors import NotFoundError
from crm_core.schemas.profiles import (
    ContactProfile,
    FactorChange,
    ScoreChange,
    ScorePublic,
    UnscoredPublic,
    present_contact,
)
from crm_core.services.access import contact_ids_in_reach
from crm_core.services.population_states import population_states_of
from crm_core.services.reasons import visible_reasons
from crm_core.unit_of_work import UnitOfWork


def get_contact_profile(uow: UnitOfWork, principal: Principal, contact_id: int) -> ContactProfile:
    """The profile a sales rep opens: the record plus the newest prediction per model, or the
    reason a model does not score the contact now.

    Records outside the caller's reach answer exactly like records that do not exist.
    """
    if contact_id not in contact_ids_in_reach(uow, principal, "contact", Action.READ, [contact_id]):
        raise NotFoundError("contact", contact_id)
    contact = uow.session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError("contact", contact_id)
    if principal.scope("prediction", Action.READ) is Scope.NONE:
        return ContactProfile(contact=present_contact(contact, principal.role), scores=[])
    # A model with a state does not score the contact now: its older score is history only.
    unscored = [UnscoredPublic.model_validate(row) for row in population_states_of(uow, principal, contact_id)]
    stated = {row.model for row in unscored}
    scores = [score for score in latest_scores(uow, principal, contact_id) if score.model not in stated]
    return ContactProfile(contact=present_contact(contact, principal.role), scores=scores, unscored=unscored)


def latest_scores(uow: UnitOfWork, principal: Principal, contact_id: int) -> list[ScorePublic]:
    """Per model, the newest score with the reasons the viewer may read, and what changed since
    the score before it (same contact, same model, any version)."""
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
    rows = uow.session.execute(
        select(Prediction, ranked.c.rank)
        .join(ranked, ranked.c.id == Prediction.id)
        .where(ranked.c.rank <= 2)
        .order_by(Prediction.model_name, ranked.c.rank)
    ).all()
    newest = {row.model_name: row for row, rank in rows if rank == 1}
    previous = {row.model_name: row for row, rank in rows if rank == 2}
    return [
        ScorePublic(
            model=row.model_name,
            version=row.model_version,
            score=row.score,
            percent=round(row.score * 100),
            band=row.band,
            scored_at=row.scored_at,
            feature_timestamp=row.feature_timestamp,
            top_factors=visible_reasons(principal, row.top_factors),
            change=_change(principal, previous[name], row) if name in previous else None,
        )
        for name, row in sorted(newest.items())
    ]


def _change(principal: Principal, before: Prediction, now: Prediction) -> ScoreChange:
    """Reasons named in either score, by how much their push moved, largest first."""
    old = {f["feature"]: f for f in visible_reasons(principal, before.top_factors)}
    new = {f["feature"]: f for f in visible_reasons(principal, now.top_factors)}

    def moved(feature: str) -> float:
        return abs(
            float(new.get(feature, {}).get("contribution") or 0.0)
            - float(old.get(feature, {}).get("contribution") or 0.0)
        )

    factors = [
        FactorChange(
            feature=feature,
            description=str((new.get(feature) or old[feature]).get("description", feature.replace("_", " "))),
            value_before=old.get(feature, {}).get("value"),
            value_now=new.get(feature, {}).get("value"),
            contribution_before=old.get(feature, {}).get("contribution"),
            contribution_now=new.get(feature, {}).get("contribution"),
        )
        for feature in sorted(old.keys() | new.keys(), key=lambda name: (-moved(name), name))
    ]
    return ScoreChange(
        previous_score=before.score,
        previous_band=before.band,
        previous_version=before.model_version,
        previous_scored_at=before.scored_at,
        factors=factors,
    )


def score_history(
    uow: UnitOfWork, principal: Principal, contact_id: int, model: str, limit: int = 60
) -> list[Prediction]:
    """The contact's scores of `model`, oldest first (for the trend chart); empty out of reach."""
    if principal.scope("prediction", Action.READ) is Scope.NONE:
        return []
    if contact_id not in contact_ids_in_reach(uow, principal, "prediction", Action.READ, [contact_id]):
        return []
    newest = (
        select(Prediction)
        .where(Prediction.contact_id == contact_id, Prediction.model_name == model)
        .order_by(Prediction.scored_at.desc(), Prediction.feature_timestamp.desc(), Prediction.id.desc())
        .limit(limit)
    )
    return list(reversed(uow.session.scalars(newest).all()))
