"""Demo consent records: who opted in to which channel at sign-up, and who withdrew later."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from crm_core.demo.timeline import HISTORY_DAYS, timestamps

# Share of people who opted in per channel when they signed up, and who later withdrew email.
OPT_IN = {"email": 0.65, "sms": 0.3, "phone": 0.2}
EMAIL_WITHDRAWN = 0.08


def draw_consents(rng: np.random.Generator, n: int, created: np.ndarray, start: datetime) -> pl.DataFrame:
    """Opt-ins recorded at sign-up, and some email opt-outs later: marketing audiences are
    filtered by the newest decision per channel, so the demo needs both. A separate random
    stream keeps every other demo table identical to earlier versions for the same seed."""
    contact_ids, channels, statuses, days = [], [], [], []
    for channel, share in OPT_IN.items():
        opted = np.flatnonzero(rng.random(n) < share)
        contact_ids.append(opted + 1)
        channels += [channel] * len(opted)
        statuses += ["granted"] * len(opted)
        days.append(created[opted])
        if channel == "email":
            withdrawn = opted[rng.random(len(opted)) < EMAIL_WITHDRAWN]
            contact_ids.append(withdrawn + 1)
            channels += [channel] * len(withdrawn)
            statuses += ["withdrawn"] * len(withdrawn)
            days.append(np.minimum(created[withdrawn] + rng.uniform(1.0, 200.0, len(withdrawn)), HISTORY_DAYS - 1))
    ids = np.concatenate(contact_ids)
    return pl.DataFrame(
        {
            "id": np.arange(1, len(ids) + 1),
            "contact_id": ids,
            "channel": channels,
            "status": statuses,
            "source": ["demo sign-up form"] * len(ids),
            "recorded_at": timestamps(start, np.concatenate(days)),
        }
    )
