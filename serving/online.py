"""Online scoring of named contacts: CRM check, online features, score, write-back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl
from sqlalchemy.orm import Session, sessionmaker

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.errors import CrmError, NotFoundError
from crm_core.services.access import contact_ids_in_reach
from crm_core.services.population_states import StatedContact, record_population_states
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.unit_of_work import UnitOfWork
from features.online.reader import OnlineReader
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from serving.champion import Champion
from serving.scoring import score_features


class FeaturesNotReadyError(CrmError, RuntimeError):
    """Contacts exist in the CRM but have no online features yet (created after the last build)."""

    def __init__(self, contact_ids: list[int]) -> None:
        super().__init__(
            f"no online features yet for contacts {contact_ids}: run `crm-intel build-features` to refresh"
        )
        self.contact_ids = contact_ids


# Each contact of a features frame outside the model's population, with its reason.
OutsideRule = Callable[[pl.DataFrame], dict[int, str]]


def _state_outsiders(
    uow: UnitOfWork, principal: Principal, model_name: str, features: pl.DataFrame, outside: OutsideRule | None
) -> list[StatedContact]:
    stated = outside(features) if outside is not None else {}
    if not stated:
        return []
    as_of = features[EVENT_TIMESTAMP].max()
    assert isinstance(as_of, datetime)  # every row has features: checked before this is called
    record_population_states(
        uow, principal, model_name, list(stated.items()), feature_timestamp=as_of, decided_at=utc_now()
    )
    return [StatedContact(contact_id, state, as_of) for contact_id, state in stated.items()]


@dataclass(frozen=True)
class OnlineScores:
    predictions: list[NewPrediction]
    inserted: int
    # Contacts the model does not score at these features' snapshot, with the reason batch
    # scoring stated: the population's edge is the same online and in batch.
    unscored: list[StatedContact] = field(default_factory=list)


def score_contacts(
    session_factory: sessionmaker[Session],
    online: OnlineReader,
    champion: Champion,
    principal: Principal,
    contact_ids: list[int],
    outside: OutsideRule | None = None,
) -> OnlineScores:
    """Score contacts the caller may score; unknown and out-of-reach ids are both "not found".
    Contacts `outside` names (the model's population, as batch scoring applies it) are given
    their reason instead, written back like a score.

    One unit of work from the reach check to the write-back, so the contacts are looked up once.
    """
    wanted = list(dict.fromkeys(contact_ids))  # keep order, drop repeats
    with UnitOfWork(session_factory) as uow:
        known = contact_ids_in_reach(uow, principal, "prediction", Action.CREATE, wanted)
        unknown = [contact_id for contact_id in wanted if contact_id not in known]
        if unknown:
            raise NotFoundError("contact", unknown[0] if len(unknown) == 1 else unknown)
        features = online.read(champion.feature_service, wanted)
        not_ready = [
            contact_id
            for contact_id, computed_at in zip(features[ENTITY_KEY], features[EVENT_TIMESTAMP], strict=True)
            if computed_at is None
        ]
        if not_ready:
            raise FeaturesNotReadyError(not_ready)
        scores = write_scores(uow, principal, champion, features, outside, reachable=known)
        uow.commit()
    return scores


def write_scores(
    uow: UnitOfWork,
    principal: Principal,
    champion: Champion,
    features: pl.DataFrame,
    outside: OutsideRule | None,
    *,
    reachable: set[int] | None = None,
) -> OnlineScores:
    """Score the rows of `features` (one snapshot) and write them back in the caller's unit of
    work: a stated reason for each contact `outside` names, a stamped score for the rest. The
    caller commits. Live rescoring after a write comes here too, with the features it computed."""
    unscored = _state_outsiders(uow, principal, champion.model_name, features, outside)
    if unscored:
        features = features.filter(~pl.col(ENTITY_KEY).is_in([row.contact_id for row in unscored]))
    predictions = score_features(champion, features) if features.height else []
    written = record_predictions(uow, principal, predictions, scored_at=utc_now(), reachable=reachable)
    return OnlineScores(predictions=predictions, inserted=written.inserted, unscored=unscored)
