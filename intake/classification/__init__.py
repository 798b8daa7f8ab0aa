"""Classification and extraction of reports: checklist items, kind, agency, place.

Pure Python over the campaign's data files (checklist.yaml, gazetteer.yaml,
lexicon.yaml, units.yaml, routing.yaml) and an optional trained model file.
"""

from .classifier import KINDS, CampaignData, Classification, Classifier, Params
from .extraction import extract_phones, extract_plates, extract_times
from .leadership import ANY_UNIT
from .model import TrainedModel
from .training import kfold, routing_facets_correct, train_model

__all__ = [
    "ANY_UNIT",
    "KINDS",
    "CampaignData",
    "Classification",
    "Classifier",
    "Params",
    "TrainedModel",
    "extract_phones",
    "extract_plates",
    "extract_times",
    "kfold",
    "routing_facets_correct",
    "train_model",
]
