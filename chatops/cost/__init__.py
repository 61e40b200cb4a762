"""`chatops cost`: the monthly bill of a configuration, offline.

Modelled on Infracost's breakdown: a JSON plan in, one pricer per resource type
(`resources.py`) returning named cost components, list prices as versioned data
with their sources (`data/prices.json`), traffic from a usage file (`usage.py`),
and the difference from what runs when a stack is deployed (`breakdown.py`).
"""

from chatops.cost.breakdown import Breakdown, Estimate, estimate, estimate_json
from chatops.cost.plan import PlanDocument, read_plan
from chatops.cost.prices import PriceBook, load_price_book
from chatops.cost.usage import Usage, load_usage

__all__ = [
    "Breakdown",
    "Estimate",
    "PlanDocument",
    "PriceBook",
    "Usage",
    "estimate",
    "estimate_json",
    "load_price_book",
    "load_usage",
    "read_plan",
]
