"""Live rescoring: what the worker does when a write asked for it.

Claim a batch of waiting contacts from the outbox, read just their rows from the CRM, compute
their features and populations with the batch build's own code at this moment
(`features.live`), put the features in the online store, score them with every scorer's
champion (or state why a model does not score them) and write the scores back, stamped with
the champion's version, then clear the requests answered. Requests made meanwhile stay and
are taken in the next round, until none wait.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.exports import export_crm
from crm_core.services import rescoring
from crm_core.unit_of_work import UnitOfWork
from crm_intel.context import AppContext
from features.live import LiveFeatures, live_features
from features.online import open_online_store
from features.online.layout import OnlineLayout
from features.populations import stated_outside

if TYPE_CHECKING:
    from features.catalogue import ModelEntry
    from serving.champion import Champion, ChampionCache

LIVE_SCORING = Principal.system(Role.MODEL_SERVICE, "live rescoring")
# Contacts per round: enough to carry an import's flood in few rounds, few enough that one
# round's reads (an IN list per table) and its write-back stay well under a second.
CONTACTS_PER_ROUND = 200

log = logging.getLogger("crm_intel.live")


@dataclass
class LiveRound:
    contacts: int
    scored: dict[str, int] = field(default_factory=dict)  # model -> contacts scored
    stated: dict[str, int] = field(default_factory=dict)  # model -> contacts given a reason instead
    seconds: float = 0.0


class LiveRescorer:
    """Holds what a worker keeps between rounds: the session factory and the champions (each
    re-checked against the registry's alias at most every `refresh_seconds`)."""

    def __init__(self, ctx: AppContext, *, refresh_seconds: float = 30.0) -> None:
        from serving.champion import ChampionCache, load_champion

        self.ctx = ctx
        self.session_factory = make_session_factory(ctx.engine)
        self.champions: ChampionCache[Champion] = ChampionCache(
            ctx.registry, load_champion, refresh_seconds=refresh_seconds
        )

    def drain(self, *, per_round: int = CONTACTS_PER_ROUND) -> list[LiveRound]:
        """Rescore every waiting contact, a round at a time, until none wait."""
        rounds: list[LiveRound] = []
        while True:
            with UnitOfWork(self.session_factory) as uow:
                claimed = rescoring.claim(uow, limit=per_round, now=utc_now())
            if not claimed:
                return rounds
            rounds.append(self.rescore([row.contact_id for row in claimed]))
            with UnitOfWork(self.session_factory) as uow:
                rescoring.settle(uow, claimed)

    def rescore(self, contact_ids: list[int]) -> LiveRound:
        """New features, online rows and scores for `contact_ids` (erased ones are skipped)."""
        began = time.perf_counter()
        layout = OnlineLayout.of_snapshots(self.ctx.features.snapshot_path)
        export = export_crm(self.ctx.engine, contact_ids)
        live = live_features(export, self.ctx.catalogue, layout, as_of=utc_now())
        done = LiveRound(contacts=live.rows.height)
        if live.rows.is_empty():
            return done
        store = open_online_store(self.ctx.features, layout)
        try:
            store.put(live.rows["contact_id"].to_list(), live.as_of, layout.encode(live.rows))
        finally:
            store.close()
        for entry in self.ctx.catalogue.scorers():
            champion = self._champion(entry.name)
            if champion is not None:
                self._score(entry, champion, live, done)
        done.seconds = time.perf_counter() - began
        return done

    def _champion(self, model_name: str) -> Champion | None:
        from features.model_registry import ArtifactIntegrityError, NoChampionError

        try:
            return self.champions.get(model_name)
        except NoChampionError:
            return None  # nothing to score with yet: the features are fresh all the same
        except ArtifactIntegrityError as error:
            log.warning("%s: not rescored live (%s)", model_name, error)
            return None

    def _score(self, entry: ModelEntry, champion: Champion, live: LiveFeatures, done: LiveRound) -> None:
        from serving.online import write_scores

        members = live.members(entry.name)
        with UnitOfWork(self.session_factory) as uow:
            written = write_scores(
                uow, LIVE_SCORING, champion, live.rows, lambda rows: stated_outside(entry, members, rows)
            )
            uow.commit()
        done.scored[entry.name] = len(written.predictions)
        done.stated[entry.name] = len(written.unscored)
