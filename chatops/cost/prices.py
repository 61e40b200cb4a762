"""The bundled price list: list prices as data, each with its source and the date it was read.

`data/prices.json` holds one price table per region. A price is looked up by a key
such as `vpc.nat_gateway.hour` or `elasticache.node_hour:valkey:cache.t4g.micro`;
the pricers in `resources.py` name the keys, this file never hard-codes an amount.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from chatops.cost.errors import NoPricesForRegion, PriceDataInvalid

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Price:
    key: str
    amount: Decimal
    unit: str
    source: str
    read: str
    note: str = ""
    label: str = ""


@dataclass(frozen=True)
class RegionPrices:
    region: str
    name: str
    prices: Mapping[str, Price]

    def get(self, key: str) -> Price | None:
        return self.prices.get(key)

    def __getitem__(self, key: str) -> Price:
        try:
            return self.prices[key]
        except KeyError:
            raise PriceDataInvalid(
                f"the bundled prices of {self.region} have no {key!r}",
                "every region in chatops/cost/data/prices.json needs the same keys",
            ) from None


@dataclass(frozen=True)
class PriceBook:
    version: str
    currency: str
    hours_per_month: Decimal
    regions: Mapping[str, RegionPrices]

    def region(self, name: str) -> RegionPrices:
        """The prices of one region, or a clear error naming the regions that have them."""
        try:
            return self.regions[name]
        except KeyError:
            known = ", ".join(sorted(self.regions))
            raise NoPricesForRegion(
                f"chatops cost has no prices for region {name!r}; it knows {known}",
                f"estimate with one of those (--region or --var aws_region=...), or add {name} "
                "to chatops/cost/data/prices.json",
            ) from None


def bundled_path() -> Path:
    return Path(str(resources.files("chatops.cost") / "data" / "prices.json"))


def load_price_book(path: Path | None = None) -> PriceBook:
    """Read and check a price file (the bundled one by default)."""
    source = path or bundled_path()
    try:
        document = json.loads(source.read_text(), parse_float=Decimal, parse_int=Decimal)
    except (OSError, ValueError) as error:
        raise PriceDataInvalid(f"cannot read the price file {source}: {error}") from None
    return parse_price_book(document, str(source))


def parse_price_book(document: Any, origin: str = "prices") -> PriceBook:
    def fail(detail: str) -> PriceDataInvalid:
        return PriceDataInvalid(f"{origin}: {detail}", "fix the price file")

    if not isinstance(document, dict) or not isinstance(document.get("regions"), dict):
        raise fail("expected an object with 'regions'")
    regions: dict[str, RegionPrices] = {}
    for region, table in document["regions"].items():
        if not isinstance(table, dict) or not isinstance(table.get("prices"), dict):
            raise fail(f"region {region} needs a 'prices' object")
        prices: dict[str, Price] = {}
        for key, raw in table["prices"].items():
            if not isinstance(raw, dict):
                raise fail(f"{region} {key}: expected an object")
            amount = raw.get("price")
            if not isinstance(amount, Decimal) or amount < 0:
                raise fail(f"{region} {key}: 'price' must be a number >= 0")
            for name in ("unit", "source", "read"):
                if not isinstance(raw.get(name), str) or not raw[name]:
                    raise fail(f"{region} {key}: '{name}' is missing")
            if not str(raw["source"]).startswith("https://"):
                raise fail(f"{region} {key}: 'source' must be the https URL the price is from")
            if not _DATE.match(str(raw["read"])):
                raise fail(f"{region} {key}: 'read' must be a date like 2026-11-28")
            prices[key] = Price(
                key=key,
                amount=amount,
                unit=str(raw["unit"]),
                source=str(raw["source"]),
                read=str(raw["read"]),
                note=str(raw.get("note", "")),
                label=str(raw.get("label", "")),
            )
        regions[region] = RegionPrices(
            region=region, name=str(table.get("name", region)), prices=prices
        )
    hours = document.get("hours_per_month")
    if not isinstance(hours, Decimal) or hours <= 0:
        raise fail("'hours_per_month' must be a positive number")
    return PriceBook(
        version=str(document.get("version", "")),
        currency=str(document.get("currency", "USD")),
        hours_per_month=hours,
        regions=regions,
    )
