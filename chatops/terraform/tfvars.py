"""The plain values a variable file assigns, read without Terraform.

Enough to compare a user's var file with chatops' record before planning: top-level
`name = value` lines whose value is a number, a quoted string without interpolation,
or a bool (`.tfvars`), and the top-level scalars of a `.tfvars.json`. Anything else
(lists, maps, heredocs, expressions) is left out: it is never one of the values chatops
records.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

Scalar = str | int | float | bool

_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_STRING = re.compile(r'^"((?:[^"\\$%]|\\.|\$(?!\{)|%(?!\{))*)"$')
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_HEREDOC = re.compile(r"^<<-?([A-Za-z_][A-Za-z0-9_]*)$")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def _strip_comment(line: str) -> str:
    """The line without a trailing `#` or `//` comment outside a string."""
    quoted = False
    escaped = False
    for index, char in enumerate(line):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = quoted
        elif char == '"':
            quoted = not quoted
        elif not quoted and (char == "#" or line.startswith("//", index)):
            return line[:index]
    return line


def _scalar(text: str) -> Scalar | None:
    if text in ("true", "false"):
        return text == "true"
    if _NUMBER.match(text):
        number = float(text)
        return int(number) if number.is_integer() and "." not in text else number
    match = _STRING.match(text)
    if match:
        try:
            value: str = json.loads(f'"{match.group(1)}"')
        except ValueError:
            return None
        return value
    return None


def scalar_assignments(text: str) -> dict[str, Scalar]:
    """Top-level `name = value` scalar assignments of a .tfvars file's text."""
    found: dict[str, Scalar] = {}
    depth = 0
    heredoc: str | None = None
    for raw in _BLOCK_COMMENT.sub("", text).splitlines():
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        line = _strip_comment(raw).strip()
        if not line:
            continue
        match = _ASSIGNMENT.match(line) if depth == 0 else None
        if match:
            opener = _HEREDOC.match(match.group(2))
            if opener:
                heredoc = opener.group(1)
                continue
            value = _scalar(match.group(2))
            if value is not None:
                found[match.group(1)] = value
        # Lines inside a list or map are not top-level assignments.
        bare = _QUOTED.sub('""', line)
        depth += bare.count("{") + bare.count("[") - bare.count("}") - bare.count("]")
        depth = max(depth, 0)
    return found


def json_assignments(document: Any) -> dict[str, Scalar]:
    """Top-level scalars of a .tfvars.json document."""
    if not isinstance(document, Mapping):
        return {}
    return {
        str(name): value
        for name, value in document.items()
        if isinstance(value, str | int | float | bool)
    }


def file_assignments(path: Path) -> dict[str, Scalar]:
    """The scalar assignments of a var file; empty when it cannot be read."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return {}
    if path.name.endswith(".json"):
        try:
            return json_assignments(json.loads(text))
        except ValueError:
            return {}
    return scalar_assignments(text)


def literal(text: str) -> Scalar:
    """A --var NAME=VALUE value as the JSON a record holds: a bool, a number, else the text."""
    value = _scalar(text) if text in ("true", "false") or _NUMBER.match(text) else None
    return text if value is None else value


def _canonical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    try:
        # Terraform converts "1" to 1 for a number variable, and 1.0 is 1.
        return repr(float(text))
    except ValueError:
        return text


def same_value(left: Any, right: Any) -> bool:
    """Whether two values mean the same to Terraform (1 == "1" == 1.0, true == "true")."""
    return _canonical(left) == _canonical(right)
