"""The CRM core lists whatever models score its contacts, without knowing them: a model is
recorded by name with its first scores, and the serving side's published descriptions (title,
meaning, worklist heading, order) replace that and decide which models the pages offer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from crm_core.auth.policy import Role
from crm_core.db import make_session_factory
from crm_core.services.model_descriptions import Description, publish_descriptions, scoring_models
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX
from tests.crm_core.conftest import World
from tests.crm_core.web_helpers import add_score, signed_in, web_host

T0 = datetime(2026, 11, 1)
UPSELL = Description("upsell", "scorer", "Upsell", "likely to order again in 60 days", "My upsell prospects", 60)
CHURN = Description("churn", "scorer", "Churn risk", "likely to go quiet in 90 days", "My at-risk customers", 90)
RECOMMEND = Description("recommend", "recommender", "Next best offer", "products bought next", None, 30)


def _publish(engine: Engine, *descriptions: Description) -> None:
    with UnitOfWork(make_session_factory(engine)) as uow:
        publish_descriptions(uow, list(descriptions))
        uow.commit()


def _scoring(engine: Engine) -> list[Description]:
    with UnitOfWork(make_session_factory(engine)) as uow:
        return scoring_models(uow)


def test_a_model_is_listed_by_name_from_its_first_scores_and_once_only(world: World) -> None:
    own = world.contacts[(Role.SALES_REP, "own")]
    add_score(world.engine, own, "next_order", 0.4, "medium", T0)
    add_score(world.engine, own, "next_order", 0.6, "high", T0.replace(day=2))
    assert [(m.name, m.title, m.heading) for m in _scoring(world.engine)] == [
        ("next_order", "Next order", "Next order")
    ]
    page = signed_in(web_host(world.engine), Role.SALES_REP).get(f"{WEB_PREFIX}/").text
    assert 'id="list-next_order"' in page and "60%" in page


def test_published_descriptions_name_order_and_retire_the_models_the_pages_offer(world: World) -> None:
    own = world.contacts[(Role.SALES_REP, "own")]
    add_score(world.engine, own, "upsell", 0.81, "high", T0)
    _publish(world.engine, CHURN, UPSELL, RECOMMEND)
    assert [m.name for m in _scoring(world.engine)] == ["churn", "upsell"], "scorers only, in the catalogue's order"
    add_score(world.engine, own, "upsell", 0.7, "high", T0.replace(day=3))
    assert _scoring(world.engine)[1].title == "Upsell", "a later score does not overwrite the published title"

    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    home = rep.get(f"{WEB_PREFIX}/").text
    assert home.index('id="list-churn"') < home.index('id="list-upsell"')
    assert "My upsell prospects" in home and "likely to order again in 60 days" in home
    record = rep.get(f"{WEB_PREFIX}/contacts/{own}").text
    assert "Upsell" in record[record.index('id="score-upsell"') :][:300]
    builder = signed_in(web_host(world.engine), Role.MARKETER).get(f"{WEB_PREFIX}/segments").text
    assert "<legend>Upsell</legend>" in builder and "<legend>Next best offer</legend>" not in builder

    _publish(world.engine, CHURN, RECOMMEND)
    assert [m.name for m in _scoring(world.engine)] == ["churn"]
    assert 'id="list-upsell"' not in rep.get(f"{WEB_PREFIX}/").text, "a model taken out is no longer offered"


def test_a_list_page_number_that_is_not_a_page_is_page_one(world: World) -> None:
    own = world.contacts[(Role.SALES_REP, "own")]
    add_score(world.engine, own, "churn", 0.5, "medium", T0)
    rep = signed_in(web_host(world.engine), Role.SALES_REP)
    for hostile in ("-1", "0", "1e9", "9" * 400, "２", "1; DROP TABLE contacts"):
        response = rep.get(f"{WEB_PREFIX}/", params={"churn_page": hostile})
        assert response.status_code == 200 and "page 1 of 1" in response.text, hostile


def test_two_workers_publishing_a_new_model_at_once_both_succeed(engine: Engine) -> None:
    """A server's workers each publish the catalogue as they start: the second insert of the
    same new model waits on the first and must then update it, not fail its worker's start."""
    import threading

    first = UnitOfWork(make_session_factory(engine))
    first.__enter__()
    publish_descriptions(first, [CHURN])  # written, not yet committed: the row is locked
    failures: list[BaseException] = []

    def second_worker() -> None:
        try:
            _publish(engine, CHURN, UPSELL)
        except BaseException as error:  # whatever the worker hit is reported
            failures.append(error)

    worker = threading.Thread(target=second_worker)
    worker.start()
    worker.join(timeout=1.0)  # it waits on the first worker's row
    first.commit()
    first.__exit__(None, None, None)
    worker.join(timeout=60)
    assert not worker.is_alive() and failures == []
    assert [(m.name, m.title) for m in _scoring(engine)] == [("churn", "Churn risk"), ("upsell", "Upsell")]
