"""The errors of `chatops cost`: one line and a hint each, like every ChatopsError."""

from __future__ import annotations

from chatops.errors import ChatopsError, UsageError


class NoPricesForRegion(ChatopsError):
    """The stack's region has no bundled prices."""


class PriceDataInvalid(ChatopsError):
    """The bundled price file is malformed (a packaging or editing mistake)."""


class UsageFileInvalid(UsageError):
    """A --usage file that cannot be read or does not follow the documented format."""


class PlanFileInvalid(UsageError):
    """A --plan-file that is neither a saved plan nor its `terraform show -json` output."""
