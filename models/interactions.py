"""Contact x product interactions as a sparse matrix that owns its id maps.

Recommenders work on row and column positions; the CRM speaks contact and product ids. The
maps live with the matrix (and the fitted model) so a position can never be read against
another fit's ids.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl
from scipy.sparse import csr_matrix

USER, ITEM, AT = "user_id", "item_id", "at"
DEFAULT_HALF_LIFE_DAYS = 90.0


@dataclass(frozen=True)
class IdMap:
    ids: np.ndarray  # position -> external id

    @classmethod
    def of(cls, values: pl.Series) -> IdMap:
        return cls(ids=np.sort(values.unique().to_numpy()))

    def positions(self, external: np.ndarray) -> np.ndarray:
        """Positions of known ids; -1 for ids this fit has never seen."""
        index = np.searchsorted(self.ids, external)
        index = np.clip(index, 0, max(len(self.ids) - 1, 0))
        known = (len(self.ids) > 0) & (self.ids[index] == external) if len(self.ids) else np.zeros(len(external), bool)
        return np.where(known, index, -1)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class UserItemStats:
    """Per (user, item): times bought, recency-weighted count and last purchase, plus maps."""

    frame: pl.DataFrame  # user_id, item_id, count, weight, last_at
    users: IdMap
    items: IdMap
    reference: datetime

    @classmethod
    def from_events(cls, events: pl.DataFrame, half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> UserItemStats:
        """`events`: one row per purchase (user_id, item_id, at); weights halve every half-life."""
        if events.is_empty():
            raise ValueError("no interactions to learn from")
        reference = events[AT].max()
        assert isinstance(reference, datetime)
        age_days = (pl.lit(reference) - pl.col(AT)).dt.total_seconds() / 86_400
        frame = (
            events.group_by(USER, ITEM)
            .agg(
                pl.len().alias("count"),
                (0.5 ** (age_days / half_life_days)).sum().alias("weight"),
                pl.col(AT).max().alias("last_at"),
            )
            .sort(USER, ITEM)
        )
        return cls(frame=frame, users=IdMap.of(frame[USER]), items=IdMap.of(frame[ITEM]), reference=reference)

    def matrix(self, values: str = "weight") -> csr_matrix:
        rows = self.users.positions(self.frame[USER].to_numpy())
        columns = self.items.positions(self.frame[ITEM].to_numpy())
        return csr_matrix(
            (self.frame[values].to_numpy().astype(np.float32), (rows, columns)),
            shape=(len(self.users), len(self.items)),
        )

    def without_users(self, user_ids: Collection[int]) -> tuple[UserItemStats, np.ndarray]:
        """These stats with `user_ids`' rows gone, and the positions they held (ascending), so
        a model's per-user arrays can drop the same rows. Items keep their positions."""
        wanted = np.asarray(sorted(set(user_ids)), dtype=self.users.ids.dtype if len(self.users) else np.int64)
        positions = self.users.positions(wanted)
        gone = np.sort(positions[positions >= 0])
        if len(gone) == 0:
            return self, gone
        kept = UserItemStats(
            frame=self.frame.filter(~pl.col(USER).is_in(self.users.ids[gone].tolist())),
            users=IdMap(ids=np.delete(self.users.ids, gone)),
            items=self.items,
            reference=self.reference,
        )
        return kept, gone

    def repeat_share(self) -> float:
        """Share of purchases that were of something the user had bought before."""
        counts = self.frame["count"].to_numpy()
        return float((counts - 1).sum() / counts.sum())
