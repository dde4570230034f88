"""The module `bentoml serve` imports (`serving.served:CrmIntelService`): the service made for
this data home's model catalogue.

Importing it reads the settings and the catalogue, which is its one job: it is the server's
entry point, imported by the server and its workers, and by nothing of ours.
"""

from __future__ import annotations

from features.catalogue_file import load_catalogue
from features.settings import FeatureSettings
from serving.service import build_service

CrmIntelService = build_service(load_catalogue(FeatureSettings().home))
