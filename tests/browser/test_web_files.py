"""The web client's files themselves (no browser needed): what the CSP and the house
style require of them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.browser.conftest import CSP, WEB_ROOT

SCRIPTS = sorted((WEB_ROOT / "js").glob("*.js"))


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self.current: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self.current = tag

    def handle_data(self, data: str) -> None:
        if self.current in ("script", "style") and data.strip():
            self.inline.append(f"<{self.current}> {data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        self.current = None


@pytest.fixture(scope="module")
def page() -> Page:
    parsed = Page()
    parsed.feed((WEB_ROOT / "index.html").read_text())
    return parsed


def test_the_page_declares_the_csp_in_a_meta_tag(page: Page) -> None:
    metas = [
        attrs.get("content")
        for tag, attrs in page.tags
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "content-security-policy"
    ]
    assert metas == [CSP]


def test_the_page_has_no_inline_script_style_or_handlers(page: Page) -> None:
    assert page.inline == []
    for tag, attrs in page.tags:
        if tag == "script":
            assert attrs.get("src"), "every script is a file"
            assert attrs.get("type") == "module"
        assert tag != "style"
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)


def test_everything_the_page_loads_is_its_own(page: Page) -> None:
    for tag, attrs in page.tags:
        for name in ("src", "href"):
            ref = attrs.get(name)
            if ref is None or ref.startswith("#"):
                continue
            assert "//" not in ref and not ref.startswith("/"), f"{tag} {name}={ref}"
            assert (WEB_ROOT / ref).is_file(), ref


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_no_script_writes_markup_or_evaluates_strings(script: Path) -> None:
    code = script.read_text()
    forbidden = r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function"
    assert re.findall(forbidden, code) == []


@pytest.mark.parametrize("name", ["connection.js", "roomlog.js"])
def test_the_connection_and_the_model_do_not_touch_the_dom(name: str) -> None:
    code = (WEB_ROOT / "js" / name).read_text()
    assert re.findall(r"\b(document|window|localStorage)\b", code) == []


def test_modules_import_only_each_other() -> None:
    for script in SCRIPTS:
        for target in re.findall(r"""^import .* from ["'](.+?)["'];""", script.read_text(), re.M):
            assert target.startswith("./"), (script.name, target)
            assert (script.parent / target).is_file(), (script.name, target)
