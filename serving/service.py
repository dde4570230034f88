"""The BentoML service: the CRM API, the web pages and the prediction endpoints on one server.

Heavy resources (database engine, Feast store, the champion model) are opened once per worker
in `__init__`, never at import. Each model in the catalogue gets its own prediction route
(`/predict/<name>`), added there as a FastAPI route so request validation answers 422 with
field-level detail, like the CRM API beside them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, cast

import bentoml
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_core.api import create_api, install_error_handlers
from crm_core.api.body_limit import MAX_JSON_BODY_BYTES, LimitRequestBody
from crm_core.api.deps import Credentials, policy, principal_for
from crm_core.api.server_errors import ContainServerErrors
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.errors import NotFoundError
from crm_core.opening import open_crm
from crm_core.schemas.common import NoNulInput, RecordId, UtcDateTime
from crm_core.services.reasons import visible_reasons
from crm_core.settings import CoreSettings, check_settings
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX
from features.catalogue import ModelKind, load_catalogue
from features.model_registry import ArtifactIntegrityError, ModelRegistry, NoChampionError
from features.online.reader import OnlineStoreUnavailableError
from features.settings import FeatureSettings
from serving import web_models
from serving.catalogue_publishing import publish_catalogue
from serving.champion import ChampionCache, Loaded, load_champion
from serving.edge import ServerEdge
from serving.json_only import refuse_non_json_bodies
from serving.model_desk import ModelDesk
from serving.online import FeaturesNotReadyError, score_contacts
from serving.recommend import load_recommender, recommend_contacts
from serving.settings import ServingSettings, serve_workers, service_tracing

crm_api = create_api()
# No HTML docs: FastAPI's pages load Swagger UI from a CDN (a third-party script, and blank
# offline); the OpenAPI documents stay at /api/openapi.json and /predict/openapi.json.
predict_api = FastAPI(title="crm-intel predictions", version="1", docs_url=None, redoc_url=None)
install_error_handlers(predict_api)
predict_api.add_middleware(ContainServerErrors)
predict_api.add_middleware(LimitRequestBody, default_bytes=MAX_JSON_BODY_BYTES)
refuse_non_json_bodies(predict_api)
web_app = web_models.create_pages()

MAX_CONTACTS_PER_REQUEST = 1_000


class PredictRequest(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    contact_ids: list[RecordId] = Field(min_length=1, max_length=MAX_CONTACTS_PER_REQUEST)


class PredictionOut(BaseModel):
    contact_id: int
    score: float
    percent: int
    band: str
    top_factors: list[dict[str, Any]]
    feature_timestamp: UtcDateTime


class PredictResponse(BaseModel):
    model: str
    version: str
    run_id: str
    written: int
    predictions: list[PredictionOut]


class RecommendationOut(BaseModel):
    product_id: int
    rank: int
    score: float
    reason: str


class ContactRecommendations(BaseModel):
    contact_id: int
    items: list[RecommendationOut]


class RecommendResponse(BaseModel):
    model: str
    version: str
    run_id: str
    written: int
    recommendations: list[ContactRecommendations]


# BentoML's request metrics are off: they label series by raw request path, so every distinct
# URL (record ids included) became a new series on an anonymous /metrics (2,200 random paths
# grew it from 422 KB to 9.8 MB and exposed which records were read).
@bentoml.service(
    name="crm_intel",
    workers=serve_workers(),
    traffic={"timeout": 60},
    tracing=service_tracing(),
    metrics={"enabled": False},
)
@bentoml.asgi_app(crm_api, path="/api")
@bentoml.asgi_app(predict_api, path="/predict")
@bentoml.asgi_app(web_app, path=WEB_PREFIX)
class CrmIntelService:
    # The catalogue routes this process added to the prediction app, replaced on a new start.
    _route_names: ClassVar[set[str]] = set()

    def __init__(self) -> None:
        from features.online.reader import open_online_reader
        from features.store import open_store

        check_settings(CoreSettings, ServingSettings, FeatureSettings)
        core = CoreSettings()
        self.serving = ServingSettings()
        engine = open_crm(core, migrate=False, statement_timeout_seconds=core.request_statement_timeout_seconds)
        self.session_factory = make_session_factory(engine)
        crm_api.state.session_factory = self.session_factory
        crm_api.state.settings = core
        predict_api.state.session_factory = self.session_factory
        web_app.state.session_factory = self.session_factory
        web_app.state.settings = core
        registry = ModelRegistry(self.serving.tracking_uri)
        web_app.state.model_desk = ModelDesk(registry)
        features = FeatureSettings()
        self.catalogue = load_catalogue(features.home)
        web_app.state.catalogue = self.catalogue
        publish_catalogue(self.session_factory, self.catalogue)
        self.online = open_online_reader(features, open_store(features))
        refresh = self.serving.champion_refresh_seconds
        self.champions = ChampionCache(registry, load_champion, refresh_seconds=refresh)
        self.recommenders = ChampionCache(registry, load_recommender, refresh_seconds=refresh)
        for entry in self.catalogue:
            cache = self.champions if entry.kind is ModelKind.SCORER else self.recommenders
            self._warm_up(cache, entry.name)
        self._route_catalogue()

    def _route_catalogue(self) -> None:
        """One prediction route per catalogue entry, documented with what it predicts; routes of
        models no longer in the catalogue are removed (a process serves one catalogue)."""
        kept = [route for route in predict_api.router.routes if getattr(route, "name", "") not in self._route_names]
        predict_api.router.routes[:] = kept
        self._route_names.clear()
        for entry in self.catalogue:
            name = f"predict_{entry.name}"
            scorer = entry.kind is ModelKind.SCORER
            endpoint = self._scorer_route(entry.name) if scorer else self._recommender_route(entry.name)
            response_model: type[BaseModel] = PredictResponse if scorer else RecommendResponse
            entity = "prediction" if scorer else "recommendation"
            predict_api.add_api_route(
                entry.route,
                endpoint,
                methods=["POST"],
                name=name,
                response_model=response_model,
                summary=entry.title,
                description=f"{entry.title}: {entry.meaning} (each contact's score written back to the CRM).",
                openapi_extra=policy(entity, "create"),
            )
            self._route_names.add(name)
        predict_api.openapi_schema = None

    def _scorer_route(self, model_name: str) -> Callable[..., Awaitable[Response]]:
        async def predict(request: PredictRequest, http: Request, credentials: Credentials) -> Response:
            return _json(await run_in_threadpool(self._predict, model_name, request, http, credentials))

        return predict

    def _recommender_route(self, model_name: str) -> Callable[..., Awaitable[Response]]:
        async def recommend(request: PredictRequest, http: Request, credentials: Credentials) -> Response:
            return _json(await run_in_threadpool(self._recommend, model_name, request, http, credentials))

        return recommend

    def __is_ready__(self) -> bool:
        """BentoML's `/readyz`: ready only when the CRM database and the online store both
        answer a read; otherwise 503 naming which one failed (raised, so the reason reaches
        the response instead of BentoML's generic "returns False")."""
        from sqlalchemy import text

        try:
            with self.session_factory() as session:
                session.execute(text("SELECT 1"))
        except Exception as error:  # any driver's failure means the same: not ready
            raise StarletteHTTPException(503, f"the CRM database could not be read ({type(error).__name__})") from None
        try:
            self.online.probe()
        except OnlineStoreUnavailableError as error:
            raise StarletteHTTPException(503, str(error)) from None
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

    # The prediction routes are async and run all their blocking work (sign-in, reach check,
    # features, scoring, write-back) in one thread-pool call. As sync routes with the `Caller`
    # dependency they took four thread hops per request (the unit-of-work generator's entry
    # and exit, the principal, the route), which cost the event loop more than the scoring.
    # They answer with the serialized model directly: FastAPI would validate it a second time.

    def _recommend(
        self,
        model_name: str,
        request: PredictRequest,
        http: Request,
        credentials: HTTPAuthorizationCredentials | None,
    ) -> RecommendResponse:
        caller = self._caller(http, credentials)
        champion = self._get(self.recommenders, model_name)
        try:
            done = recommend_contacts(self.session_factory, champion, caller, request.contact_ids)
        except NotFoundError as error:
            raise HTTPException(status_code=404, detail={"error": str(error), "id": error.entity_id}) from error
        lists: dict[int, list[RecommendationOut]] = {contact_id: [] for contact_id in request.contact_ids}
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

    def _caller(self, http: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
        with UnitOfWork(self.session_factory) as uow:
            return principal_for(uow, http, credentials)

    def _predict(
        self, model_name: str, request: PredictRequest, http: Request, credentials: HTTPAuthorizationCredentials | None
    ) -> PredictResponse:
        caller = self._caller(http, credentials)
        champion = self._get(self.champions, model_name)
        try:
            scored = score_contacts(self.session_factory, self.online, champion, caller, request.contact_ids)
        except NotFoundError as error:
            raise HTTPException(status_code=404, detail={"error": str(error), "id": error.entity_id}) from error
        except FeaturesNotReadyError as error:
            raise HTTPException(status_code=409, detail={"error": str(error), "ids": error.contact_ids}) from error
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
        )


# The decorators made the class a BentoML Service (its type stubs do not say so).
cast("bentoml.Service[CrmIntelService]", CrmIntelService).add_asgi_middleware(ServerEdge, home_path=f"{WEB_PREFIX}/")


def _json(answer: BaseModel) -> Response:
    return Response(content=answer.model_dump_json(), media_type="application/json")
