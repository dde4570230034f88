"""A scratch CRM for notebooks: generated data, features built, every store in one folder.

Notebooks explore and explain; setting up the data they explore is the same few package calls
each time, so it lives here rather than being copied into every notebook.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from crm_core.bulk_load import contact_count
from crm_core.settings import CoreSettings
from crm_intel.app import demo, features
from crm_intel.context import AppContext, quiet_third_parties
from features.settings import FeatureSettings
from serving.settings import ServingSettings
from training.settings import TrainingSettings


def workspace(*, contacts: int = 3_000, seed: int = 7, home: Path | None = None) -> AppContext:
    """A CRM in `home` (a new temporary folder by default) filled with `contacts` generated
    customers and their features published to Feast; an existing CRM there is reused as is."""
    home = (home or Path(tempfile.mkdtemp(prefix="crm-notebook-"))).resolve()
    context = AppContext(
        core=CoreSettings(home=home),
        features=FeatureSettings(home=home),
        training=TrainingSettings(home=home),
        serving=ServingSettings(home=home),
    )
    quiet_third_parties(home)
    if contact_count(context.engine) == 0:
        demo.demo_data(context, contacts=contacts, seed=seed, replace=False)
        features.build_features(context)
    return context
