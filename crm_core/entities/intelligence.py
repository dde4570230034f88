"""What the models write back: scores, challengers' shadow scores, write-back progress,
recommendations and segments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm_core.entities.base import Base


class ScoreColumns:
    """What every stored score holds: whose, by which model version, on which snapshot, why."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    mlflow_run_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20))
    top_factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    feature_timestamp: Mapped[datetime] = mapped_column(DateTime)
    scored_at: Mapped[datetime] = mapped_column(DateTime)


class Prediction(ScoreColumns, Base):
    """One immutable score of one contact by one model version on one feature snapshot.

    The unique key makes write-back idempotent: scoring the same contact again with the same
    model version and feature timestamp adds nothing.
    """

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "feature_timestamp",
            name="uq_predictions_identity",
        ),
        Index("ix_predictions_contact_model_scored", "contact_id", "model_name", "scored_at"),
    )


class CurrentScore(Base):
    """Each contact's current score per model: the newest of its predictions (by scoring time,
    then feature time, then id), kept in step in the same transaction that writes them.

    Predictions are a history; what a record, a list or a segment shows is the current one.
    Ranking the whole history on every read (a window over every prediction) made a segment
    preview on 100k contacts run for minutes; this row is one index lookup.
    """

    __tablename__ = "current_scores"
    __table_args__ = (Index("ix_current_scores_model_band", "model_name", "band", "contact_id"),)

    model_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    # Deleting a prediction (only erasure does) takes its current row with it.
    prediction_id: Mapped[int] = mapped_column(ForeignKey("predictions.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20))
    feature_timestamp: Mapped[datetime] = mapped_column(DateTime)
    scored_at: Mapped[datetime] = mapped_column(DateTime)


class PopulationState(Base):
    """Why a model does not score a contact now: the contact is outside the model's population
    ("already lapsed", "not a lead") at the feature snapshot scored.

    At most one per contact and model, and never beside a current score of the same model:
    writing one takes the other away in the same transaction, so a record, a list or a segment
    sees either the score or the reason.
    """

    __tablename__ = "population_states"

    model_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)
    state: Mapped[str] = mapped_column(String(120))
    feature_timestamp: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime] = mapped_column(DateTime)


class ShadowPrediction(ScoreColumns, Base):
    """A challenger's score, kept beside the champion's but never shown on a record: how the
    challenger would have scored the live population, for comparison before any promotion."""

    __tablename__ = "shadow_predictions"
    __table_args__ = (
        UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "feature_timestamp",
            name="uq_shadow_predictions_identity",
        ),
    )


class WriteBackRun(Base):
    """Progress of one batch write-back (one model version scoring one feature snapshot),
    committed in the same transaction as each chunk of scores it counts.

    After a crash the rows written and the progress recorded therefore agree exactly, and the
    next run resumes after `last_contact_id` instead of starting over.
    """

    __tablename__ = "write_back_runs"
    __table_args__ = (
        UniqueConstraint("target", "model_name", "model_version", "feature_timestamp", name="uq_write_back_runs_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(40))  # the table written: predictions or shadow_predictions
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    feature_timestamp: Mapped[datetime] = mapped_column(DateTime)
    total_rows: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    last_contact_id: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ProductRecommendation(Base):
    """One product offered to one contact by one recommender version, with its rank and reason.

    Immutable like predictions: a new model version or a new data snapshot adds rows, and the
    unique key makes writing the same list twice a no-op.
    """

    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "data_timestamp",
            "product_id",
            name="uq_recommendations_identity",
        ),
        Index("ix_recommendations_contact_model_written", "contact_id", "model_name", "written_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(40))
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    mlflow_run_id: Mapped[str] = mapped_column(String(64))
    data_timestamp: Mapped[datetime] = mapped_column(DateTime)
    written_at: Mapped[datetime] = mapped_column(DateTime)


class Segment(Base):
    """An audience: a rule over scores and attributes (built by marketers) or a behaviour cluster
    (found by the models). Members are materialised, and refreshed after every scoring run."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(400))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)
    member_count: Mapped[int] = mapped_column(Integer, default=0)


class SegmentMember(Base):
    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)


class ModelDescription(Base):
    """What a model that writes scores here is, in a rep's words: the pages list models from
    these rows (published by the serving side from its catalogue), so the CRM core never has
    to know which models exist."""

    __tablename__ = "model_descriptions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(80))
    meaning: Mapped[str] = mapped_column(String(80))
    worklist: Mapped[str | None] = mapped_column(String(80))
    horizon_days: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    published_at: Mapped[datetime] = mapped_column(DateTime)
