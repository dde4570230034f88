"""Which models write scores here, and how the pages name them.

The CRM core does not know the models: the serving side publishes its catalogue's descriptions
(title, what a high score means, the worklist's heading), and a model that writes scores before
any description arrives is recorded by name on its first write, so every scored model can be
listed, filtered on and shown, whatever it is called.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from crm_core.clock import utc_now
from crm_core.entities import ModelDescription
from crm_core.services.idempotent import upsert_insert
from crm_core.unit_of_work import UnitOfWork

SCORER = "scorer"
# Models first seen through their scores sort after every published one.
UNPUBLISHED_POSITION = 1_000


@dataclass(frozen=True)
class Description:
    name: str
    kind: str
    title: str
    meaning: str
    worklist: str | None
    horizon_days: int

    @property
    def heading(self) -> str:
        """The heading of the model's worklist on a rep's home."""
        return self.worklist or self.title


def _of(row: ModelDescription) -> Description:
    return Description(row.name, row.kind, row.title, row.meaning, row.worklist, row.horizon_days)


PUBLISHED = ("kind", "title", "meaning", "worklist", "horizon_days", "position", "published_at")


def publish_descriptions(uow: UnitOfWork, descriptions: Sequence[Description]) -> None:
    """Make `descriptions` the models the pages know, in this order; models left out are no
    longer listed (their stored scores stay, as history). One upsert: every worker of a server
    publishes as it starts, and two that insert the same new model at once must both succeed."""
    now = utc_now()
    names = [description.name for description in descriptions]
    uow.session.execute(delete(ModelDescription).where(ModelDescription.name.not_in(names)))
    rows = [
        {
            "name": d.name,
            "kind": d.kind,
            "title": d.title,
            "meaning": d.meaning,
            "worklist": d.worklist,
            "horizon_days": d.horizon_days,
            "position": position,
            "published_at": now,
        }
        for position, d in enumerate(descriptions)
    ]
    if rows:
        insert = upsert_insert(uow.session.get_bind().dialect.name)
        statement = insert(ModelDescription).values(rows)
        refreshed = {column: statement.excluded[column] for column in PUBLISHED}
        uow.session.execute(statement.on_conflict_do_update(index_elements=["name"], set_=refreshed))


def note_scoring_models(uow: UnitOfWork, model_names: Iterable[str]) -> None:
    """Record models that write scores, by name, unless they are described already."""
    names = sorted(set(model_names))
    if not names:
        return
    # Looked up first: SQLAlchemy does not cache an ON CONFLICT insert's compiled form, and
    # every online request's write-back comes here for a model described long ago.
    described = set(uow.session.scalars(select(ModelDescription.name).where(ModelDescription.name.in_(names))))
    rows = [
        {
            "name": name,
            "kind": SCORER,
            "title": name.replace("_", " ").capitalize(),
            "meaning": "",
            "worklist": None,
            "horizon_days": 0,
            "position": UNPUBLISHED_POSITION,
            "published_at": utc_now(),
        }
        for name in names
        if name not in described
    ]
    if rows:
        insert = upsert_insert(uow.session.get_bind().dialect.name)
        uow.session.execute(insert(ModelDescription).values(rows).on_conflict_do_nothing(index_elements=["name"]))


def scoring_models(uow: UnitOfWork) -> list[Description]:
    """The models that score contacts, in the catalogue's order."""
    found = uow.session.scalars(
        select(ModelDescription)
        .where(ModelDescription.kind == SCORER)
        .order_by(ModelDescription.position, ModelDescription.name)
    )
    return [_of(row) for row in found]


def model_titles(uow: UnitOfWork) -> dict[str, str]:
    return {row.name: row.title for row in uow.session.scalars(select(ModelDescription))}
