"""AWS Budgets: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

import json
from typing import Any

from moto.budgets import exceptions as budgets_exceptions
from moto.budgets import responses as budgets_responses

from chatops.emulator.patches.registry import Patch, Revert, chain, replace


def _budget_tags(backend: Any) -> dict[str, list[dict[str, str]]]:
    """Tags by budget ARN, kept on the backend (moto keeps none)."""
    tags: dict[str, list[dict[str, str]]] = backend.__dict__.setdefault("_chatops_tags", {})
    return tags


def _install_budget_operations() -> Revert:
    cls = budgets_responses.BudgetsResponse
    original_create = cls.create_budget
    original_delete = cls.delete_budget

    def budget(self: Any) -> Any:
        account, name = self._get_param("AccountId"), self._get_param("BudgetName")
        found = self.backend.budgets[account].get(name)
        if found is None:
            raise budgets_exceptions.NotFoundException(f"budget {name} does not exist")
        return found

    def arn(self: Any, name: str) -> str:
        return f"arn:aws:budgets::{self._get_param('AccountId')}:budget/{name}"

    def create_budget(self: Any) -> Any:
        result = original_create(self)
        name = self._get_param("Budget")["BudgetName"]
        _budget_tags(self.backend)[arn(self, name)] = list(self._get_param("ResourceTags") or [])
        return result

    def delete_budget(self: Any) -> Any:
        result = original_delete(self)
        _budget_tags(self.backend).pop(arn(self, self._get_param("BudgetName")), None)
        return result

    def update_budget(self: Any) -> str:
        new = self._get_param("NewBudget")
        current = self.backend.budgets[self._get_param("AccountId")].get(new["BudgetName"])
        if current is None:
            missing = f"budget {new['BudgetName']} does not exist"
            raise budgets_exceptions.NotFoundException(missing)
        current.budget.update(new)
        return json.dumps({})

    def describe_subscribers_for_notification(self: Any) -> str:
        wanted = self._get_param("Notification")
        for notification in budget(self).notifications:
            if notification.details == wanted:
                return json.dumps({"Subscribers": notification.subscribers})
        raise budgets_exceptions.NotFoundException("the notification does not exist")

    def list_tags_for_resource(self: Any) -> str:
        tags = _budget_tags(self.backend).get(self._get_param("ResourceARN"), [])
        return json.dumps({"ResourceTags": tags})

    def tag_resource(self: Any) -> str:
        tags = _budget_tags(self.backend).setdefault(self._get_param("ResourceARN"), [])
        for tag in self._get_param("ResourceTags") or []:
            tags[:] = [t for t in tags if t["Key"] != tag["Key"]] + [tag]
        return json.dumps({})

    def untag_resource(self: Any) -> str:
        keys = set(self._get_param("ResourceTagKeys") or [])
        tags = _budget_tags(self.backend).setdefault(self._get_param("ResourceARN"), [])
        tags[:] = [t for t in tags if t["Key"] not in keys]
        return json.dumps({})

    return chain(
        replace(cls, "create_budget", create_budget),
        replace(cls, "delete_budget", delete_budget),
        replace(cls, "update_budget", update_budget),
        replace(
            cls, "describe_subscribers_for_notification", describe_subscribers_for_notification
        ),
        replace(cls, "list_tags_for_resource", list_tags_for_resource),
        replace(cls, "tag_resource", tag_resource),
        replace(cls, "untag_resource", untag_resource),
    )


PATCHES: tuple[Patch, ...] = (
    Patch(
        "budgets-subscribers-and-tags",
        "DescribeSubscribersForNotification, UpdateBudget and the tagging calls are not "
        "implemented (HTTP 500, the provider retries for minutes): a budget that e-mails "
        "(alarm_email set) cannot be applied. Implemented from the budget's notifications; "
        "tags are kept per budget ARN.",
        _install_budget_operations,
    ),
)
