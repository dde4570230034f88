"""Each contact's current score is kept in step with the predictions written, in the same
transaction, and equals what ranking the whole history would say."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, event, select, text

from crm_core.db import make_session_factory
from crm_core.entities import CurrentScore, Prediction
from crm_core.migrate import upgrade
from crm_core.services.predictions import record_predictions
from crm_core.services.score_ranking import ranked_scores
from crm_core.unit_of_work import UnitOfWork
from tests.support.contacts import add_contacts
from tests.support.predictions import MODEL_SERVICE, T0, prediction, write


def current(engine: Engine) -> dict[int, tuple[str, float]]:
    with engine.connect() as connection:
        rows = connection.execute(select(CurrentScore.contact_id, CurrentScore.model_version, CurrentScore.score))
        return {contact_id: (version, score) for contact_id, version, score in rows}


def ranked(engine: Engine) -> dict[int, tuple[str, float]]:
    newest = ranked_scores("churn")
    with engine.connect() as connection:
        rows = connection.execute(
            select(newest.c.contact_id, newest.c.model_version, newest.c.score).where(newest.c.rank == 1)
        )
        return {contact_id: (version, score) for contact_id, version, score in rows}


def test_the_current_score_follows_newer_scores_and_never_goes_back(engine: Engine, contacts: list[int]) -> None:
    write(engine, [prediction(c, version="1", score=0.2) for c in contacts], scored_at=T0)
    assert current(engine) == dict.fromkeys(contacts, ("1", 0.2))
    later = T0 + timedelta(days=30)
    write(engine, [prediction(contacts[0], version="2", score=0.9, at=later)], scored_at=later)
    assert current(engine)[contacts[0]] == ("2", 0.9)
    # An older run written late (a resumed batch, a replay) does not move the current score back.
    write(engine, [prediction(contacts[0], version="0", score=0.5, at=T0 - timedelta(days=30))], scored_at=T0)
    write(engine, [prediction(c, version="1", score=0.2) for c in contacts], scored_at=later)
    assert current(engine)[contacts[0]] == ("2", 0.9)
    assert current(engine) == ranked(engine)


def test_shadow_scores_and_rolled_back_writes_leave_it_alone(engine: Engine, contacts: list[int]) -> None:
    write(engine, [prediction(contacts[0], version="1", score=0.3)])
    with UnitOfWork(make_session_factory(engine)) as uow:
        record_predictions(
            uow,
            MODEL_SERVICE,
            [prediction(contacts[0], version="9", score=0.99)],
            scored_at=T0 + timedelta(days=1),
            shadow=True,
        )
        uow.commit()
    with UnitOfWork(make_session_factory(engine)) as uow:
        record_predictions(
            uow, MODEL_SERVICE, [prediction(contacts[0], version="8", score=0.88)], scored_at=T0 + timedelta(days=2)
        )
        # no commit: the scores and their current row vanish together
    assert current(engine) == {contacts[0]: ("1", 0.3)}


def test_a_sparse_few_contacts_are_selected_by_list_and_only_they_move(engine: Engine) -> None:
    """An online request scores a few scattered contacts: the upsert selects them by list, not
    by the id range around them, and leaves the contacts between them as they were."""
    ids = add_contacts(engine, 12, prefix="S")
    write(engine, [prediction(c, version="1", score=0.2) for c in ids])
    later = T0 + timedelta(days=1)
    scattered = [ids[0], ids[5], ids[-1]]
    write(engine, [prediction(c, version="2", score=0.8, at=later) for c in scattered], scored_at=later)
    assert current(engine) == {c: ("2", 0.8) if c in scattered else ("1", 0.2) for c in ids}
    assert current(engine) == ranked(engine)


def test_a_rewrite_that_stores_nothing_new_leaves_the_current_rows_untouched(
    engine: Engine, contacts: list[int]
) -> None:
    """Rescoring unchanged contacts stores nothing (same identities), so no statement goes to
    the current scores; a batch with one new row among repeats still moves that row."""
    write(engine, [prediction(c, version="1", score=0.2) for c in contacts])
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert write(engine, [prediction(c, version="1", score=0.2) for c in contacts], scored_at=T0)[:2] == (0, 3)
        assert statements and not [s for s in statements if "current_scores" in s]
        later = T0 + timedelta(days=1)
        repeats_and_one_new = [prediction(contacts[0], version="1", score=0.2), prediction(contacts[1], at=later)]
        assert write(engine, repeats_and_one_new, scored_at=later)[:2] == (1, 1)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert [s for s in statements if "current_scores" in s]
    assert current(engine) == {contacts[0]: ("1", 0.2), contacts[1]: ("1", 0.7), contacts[2]: ("1", 0.2)}
    assert current(engine) == ranked(engine)


def test_deleting_predictions_takes_their_current_rows(engine: Engine, contacts: list[int]) -> None:
    write(engine, [prediction(c) for c in contacts])
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM predictions WHERE contact_id = :c"), {"c": contacts[1]})
    assert set(current(engine)) == {contacts[0], contacts[2]}


def test_the_upgrade_ranks_the_history_written_before_it(database_url: str) -> None:
    from crm_core.db import make_engine

    engine = make_engine(database_url)
    try:
        upgrade(engine, "0014")
        with engine.begin() as connection:
            ids = []
            for name in ("A", "B"):
                ids.append(
                    connection.execute(
                        text(
                            "INSERT INTO contacts (first_name, last_name, lifecycle_stage, created_at) "
                            "VALUES (:n, 'X', 'lead', :t) RETURNING id"
                        ),
                        {"n": name, "t": T0},
                    ).scalar_one()
                )
            history = [(ids[0], "1", 0.1, T0), (ids[0], "2", 0.7, T0 + timedelta(days=1)), (ids[1], "1", 0.4, T0)]
            for contact_id, version, score, at in history:
                connection.execute(
                    Prediction.__table__.insert().values(
                        contact_id=contact_id,
                        model_name="churn",
                        model_version=version,
                        mlflow_run_id="r",
                        score=score,
                        band="low",
                        top_factors=[],
                        feature_timestamp=at,
                        scored_at=at,
                    )
                )
        upgrade(engine)
        assert current(engine) == {ids[0]: ("2", 0.7), ids[1]: ("1", 0.4)}
    finally:
        engine.dispose()
