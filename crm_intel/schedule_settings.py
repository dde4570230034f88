"""What the worker runs by the clock, from the ``CRM_`` environment (UTC cron lines).

- ``CRM_SCHEDULES``: ``off`` turns every schedule off (on by default).
- ``CRM_SCHEDULE_REFRESH``: the feature build and the rescore of every contact with every
  champion (``0 2 * * *``: nightly at 02:00); ``off`` for none.
- ``CRM_SCHEDULE_RETRAIN``: each model's retraining, through the promotion gate
  (``0 3 * * 0``: Sundays at 03:00); ``off`` for none.
- ``CRM_SCHEDULE_RETRAIN_MODELS``: per-model lines over the default, as JSON
  (``{"lead": "0 4 * * *", "recommend": "off"}``).
- ``CRM_RETRAIN_ON_DRIFT_PSI``: after the nightly rescore, a model whose worst drift the
  calendar does not explain passes this PSI is retrained at once (0 turns it off).
- ``CRM_OUTCOME_WARNING_MARGIN``: after the nightly rescore each champion's past scores are
  checked against what happened; a month whose ROC-AUC fell below the holdout's by more than
  this (0.05) is a warning on the model page.
"""

from __future__ import annotations

from pydantic import Field, ValidationInfo, field_validator

from crm_core.errors import ValidationFailedError
from crm_core.jobs.cron import Cron
from crm_core.settings import HomeSettings

OFF = "off"


def _line_or_off(value: str, setting: str) -> str:
    text = value.strip()
    if text.lower() == OFF:
        return OFF
    try:
        return Cron.parse(text, setting=setting).line
    except ValidationFailedError as error:
        raise ValueError(f"{setting}: {error.reason}") from None


class ScheduleSettings(HomeSettings):
    schedules: bool = True
    schedule_refresh: str = "0 2 * * *"
    schedule_retrain: str = "0 3 * * 0"
    schedule_retrain_models: dict[str, str] = Field(default_factory=dict)
    retrain_on_drift_psi: float = Field(default=0.25, ge=0.0)
    # How far a month's live ROC-AUC may fall below the holdout's before the model page warns.
    outcome_warning_margin: float = Field(default=0.05, ge=0.0, le=0.5)

    @field_validator("schedule_refresh", "schedule_retrain")
    @classmethod
    def _cron(cls, value: str, info: ValidationInfo) -> str:
        return _line_or_off(value, f"CRM_{str(info.field_name).upper()}")

    @field_validator("schedule_retrain_models")
    @classmethod
    def _crons(cls, value: dict[str, str]) -> dict[str, str]:
        return {name: _line_or_off(line, f"CRM_SCHEDULE_RETRAIN_MODELS[{name}]") for name, line in value.items()}

    def retrain_line(self, model_name: str) -> str:
        return self.schedule_retrain_models.get(model_name, self.schedule_retrain)
