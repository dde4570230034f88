"""The BentoML service: the prediction endpoints as BentoML API methods, the CRM API and the web
pages mounted beside them on one server.

Each model in the catalogue gets its own API method at `/predict/<name>`, so BentoML types its
input and output and writes its OpenAPI (`/docs.json`). Methods are attributes of the service
class, fixed when the class is made, so the class is made from a catalogue (`build_service`);
the module BentoML serves (`serving.served`) makes it from the data home's. Heavy resources
(database engine, online store, the champions) are opened once per worker in `__init__`, never
when the class is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, cast

import bentoml
from fastapi import HTTPException
from fastapi.security import HTTPAuthorizationCredentials
from starlette.requests import Request
from starlette.responses import Response

from crm_core.api import create_api
from crm_core.api.body_limit import MAX_JSON_BODY_BYTES
from crm_core.api.deps import bearer, principal_for
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.errors import NotFoundError
from crm_core.jobs.live import lazy_live_queue, wake_on_commit
from crm_core.opening import open_crm
from crm_core.services.reasons import visible_reasons
from crm_core.settings import CoreSettings, check_settings
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX
from features.catalogue import Catalogue, ModelEntry, ModelKind
from features.live import live_members
from features.model_registry import ArtifactIntegrityError, ModelRegistry, NoChampionError
from features.online.reader import OnlineStoreUnavailableError
from features.populations import PopulationBook, PopulationUnknownError
from features.settings import FeatureSettings
from serving import web_models
from serving.answers import WorkLimit, answered, quiet_refused_input
from serving.catalogue_publishing import publish_catalogue
from serving.champion import ChampionCache, Loaded, load_champion
from serving.edge import ServerEdge
from serving.model_desk import ModelDesk
from serving.online import FeaturesNotReadyError, score_contacts
from serving.prediction_edge import PredictionEdge
from serving.prediction_io import (
    ContactRecommendations,
    ContactsInput,
    PredictionOut,
    PredictResponse,
    RecommendationOut,
    RecommendResponse,
    UnscoredOut,
)
from serving.recommend import load_recommender, recommend_contacts
from serving.settings import ServingSettings, serve_workers, service_tracing

PREDICT_PREFIX = "/predict"


crm_api = create_api()
web_app = web_models.create_pages()


class CrmIntel:
    """What every catalogue's service does; `build_service` adds one API method per model."""

    catalogue: Catalogue  # the catalogue the class was made from (set by `build_service`)

    def __init__(self) -> None:
        from features.online.reader import open_online_reader
        from features.store import open_store

        check_settings(CoreSettings, ServingSettings, FeatureSettings)
        quiet_refused_input()
        core = CoreSettings()
        self.serving = ServingSettings()
        self.work_limit = WorkLimit(self.serving.prediction_threads)
        engine = open_crm(core, migrate=False, statement_timeout_seconds=core.request_statement_timeout_seconds)
        self.session_factory = make_session_factory(engine)
        wake_on_commit(self.session_factory, lazy_live_queue(core))  # writes through the API get rescored
        crm_api.state.session_factory = self.session_factory
        crm_api.state.settings = core
        web_app.state.session_factory = self.session_factory
        web_app.state.settings = core
        registry = ModelRegistry(self.serving.tracking_uri)
        web_app.state.model_desk = ModelDesk(registry)
        features = FeatureSettings()
        web_app.state.catalogue = self.catalogue
        publish_catalogue(self.session_factory, self.catalogue)
        self.online = open_online_reader(features, open_store(features))
        self.populations = PopulationBook(
            features.population_path, live=lambda entry, ids, as_of: live_members(engine, entry, ids, as_of)
        )
        refresh = self.serving.champion_refresh_seconds
        self.champions = ChampionCache(registry, load_champion, refresh_seconds=refresh)
        self.recommenders = ChampionCache(registry, load_recommender, refresh_seconds=refresh)
        for entry in self.catalogue:
            cache = self.champions if entry.kind is ModelKind.SCORER else self.recommenders
            self._warm_up(cache, entry.name)

    def __is_ready__(self) -> bool:
        """BentoML's `/readyz`: ready only when the CRM database and the online store both
        answer a read; otherwise 503 naming which one failed (raised, so the reason reaches
        the response instead of BentoML's generic "returns False")."""
        from sqlalchemy import text

        try:
            with self.session_factory() as session:
                session.execute(text("SELECT 1"))
        except Exception as error:  # any driver's failure means the same: not ready
            raise HTTPException(503, f"the CRM database could not be read ({type(error).__name__})") from None
        try:
            self.online.probe()
        except OnlineStoreUnavailableError as error:
            raise HTTPException(503, str(error)) from None
        return True

    @staticmethod
    def _warm_up(cache: ChampionCache[Any], model_name: str) -> None:
        # Load at start so the first request is fast; a missing champion is not fatal: the CRM
        # API still serves, and predictions answer 503 until a model is trained. A tampered
        # artifact is refused the same way, and said so on every request.
        with contextlib.suppress(NoChampionError, ArtifactIntegrityError):
            cache.get(model_name)

    @staticmethod
    def _get(cache: ChampionCache[Loaded], model_name: str) -> Loaded:
        try:
            return cache.get(model_name)
        except (NoChampionError, ArtifactIntegrityError) as error:
            raise HTTPException(status_code=503, detail=str(error)) from error

    # An API method runs all its blocking work (sign-in, reach check, features, scoring,
    # write-back) in one thread-pool call (`answered`): as separate steps they took four thread
    # hops per request, which cost the event loop more than the scoring.

    def _caller(self, http: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        with UnitOfWork(self.session_factory) as uow:
            return principal_for(uow, http, credentials)

    def _recommend(
        self, model_name: str, contact_ids: list[int], http: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> RecommendResponse:
        caller = self._caller(http, credentials)
        champion = self._get(self.recommenders, model_name)
        try:
            done = recommend_contacts(self.session_factory, champion, caller, contact_ids)
        except NotFoundError as error:
            raise HTTPException(status_code=404, detail={"error": str(error), "id": error.entity_id}) from error
        lists: dict[int, list[RecommendationOut]] = {contact_id: [] for contact_id in contact_ids}
        for row in done.rows:
            lists[row.contact_id].append(
                RecommendationOut(product_id=row.product_id, rank=row.rank, score=row.score, reason=row.reason)
            )
        return RecommendResponse(
            model=champion.model_name,
            version=champion.version,
            run_id=champion.run_id,
            written=done.inserted,
            recommendations=[ContactRecommendations(contact_id=c, items=items) for c, items in lists.items()],
        )

    def _predict(
        self, model_name: str, contact_ids: list[int], http: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> PredictResponse:
        caller = self._caller(http, credentials)
        champion = self._get(self.champions, model_name)
        try:
            entry = self.catalogue.get(model_name)
            scored = score_contacts(
                self.session_factory,
                self.online,
                champion,
                caller,
                contact_ids,
                outside=lambda features: self.populations.outside(entry, features),
            )
        except NotFoundError as error:
            raise HTTPException(status_code=404, detail={"error": str(error), "id": error.entity_id}) from error
        except FeaturesNotReadyError as error:
            raise HTTPException(status_code=409, detail={"error": str(error), "ids": error.contact_ids}) from error
        except PopulationUnknownError as error:
            raise HTTPException(status_code=409, detail={"error": str(error)}) from error
        except OnlineStoreUnavailableError as error:
            raise HTTPException(status_code=503, detail={"error": str(error)}) from error
        return PredictResponse(
            model=champion.model_name,
            version=champion.version,
            run_id=champion.run_id,
            written=scored.inserted,
            predictions=[
                PredictionOut(
                    contact_id=row.contact_id,
                    score=row.score,
                    percent=round(row.score * 100),
                    band=row.band,
                    top_factors=visible_reasons(caller, row.top_factors),
                    feature_timestamp=row.feature_timestamp,
                )
                for row in scored.predictions
            ],
            unscored=[
                UnscoredOut(contact_id=row.contact_id, state=row.state, feature_timestamp=row.feature_timestamp)
                for row in scored.unscored
            ],
        )


def _prediction_api(entry: ModelEntry) -> Any:
    """The API method for one catalogue entry: a scorer's answer is scores, a recommender's
    ranked lists; both are written back to the CRM before the method answers."""
    model_name = entry.name
    scorer = entry.kind is ModelKind.SCORER
    output = PredictResponse if scorer else RecommendResponse
    written = "score" if scorer else "list"

    async def predict(
        self: CrmIntel, contact_ids: list[int], ctx: bentoml.Context
    ) -> PredictResponse | RecommendResponse | Response:
        http = ctx.request
        credentials = await bearer(http)
        work = self._predict if scorer else self._recommend
        return await answered(lambda: work(model_name, contact_ids, http, credentials), ctx, self.work_limit)

    predict.__doc__ = f"{entry.title}: {entry.meaning} (each contact's {written} is written back to the CRM)."
    return _api(entry, predict, output)


def _api(entry: ModelEntry, method: Callable[..., Any], output: type[Any]) -> Any:
    # BentoML finds a method by its function's name: it must be the attribute's, one per model.
    method.__name__ = method.__qualname__ = api_name(entry)
    return bentoml.api(route=f"{PREDICT_PREFIX}{entry.route}", input_spec=ContactsInput, output_spec=output)(method)


def api_name(entry: ModelEntry) -> str:
    return f"predict_{entry.name}"


def build_service(catalogue: Catalogue) -> bentoml.Service[CrmIntel]:
    """The service for `catalogue`: one prediction API method per model, the CRM API and the
    web app mounted beside them, and the edges every request passes."""
    methods: dict[str, Any] = {"catalogue": catalogue}
    for entry in catalogue:
        methods[api_name(entry)] = _prediction_api(entry)
    service_class = type("CrmIntelService", (CrmIntel,), methods)
    service_class.__module__ = __name__
    # BentoML's request metrics are off: they label series by raw request path, so every
    # distinct URL (record ids included) became a new series on an anonymous /metrics (2,200
    # random paths grew it from 422 KB to 9.8 MB and exposed which records were read).
    service = cast(
        "bentoml.Service[CrmIntel]",
        bentoml.service(
            name="crm_intel",
            workers=serve_workers(),
            traffic={"timeout": 60},
            tracing=service_tracing(),
            metrics={"enabled": False},
        )(service_class),
    )
    service.mount_asgi_app(crm_api, path="/api")
    service.mount_asgi_app(web_app, path=WEB_PREFIX)
    service.add_asgi_middleware(ServerEdge, home_path=f"{WEB_PREFIX}/")
    service.add_asgi_middleware(PredictionEdge, path_prefix=f"{PREDICT_PREFIX}/", max_body_bytes=MAX_JSON_BODY_BYTES)
    return service
