"""The page's HTML and assets: served without the Keyfactor headers, security headers,
no inline script, a label for every input, and the reader's read-only view."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from tests.conftest import READER
from tests.web.conftest import sign_in


class Outline(HTMLParser):
    """The parts of a page the checks below need."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    def by_id(self, element_id: str) -> tuple[str, dict[str, str | None]] | None:
        return next(((t, a) for t, a in self.tags if a.get("id") == element_id), None)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def check_page_basics(response: httpx.Response) -> Outline:
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    page = outline(response.text)
    assert page.all("html")[0].get("lang") == "en"
    assert all(script.get("src") for script in page.all("script")), "inline script"
    assert not any("style" in attrs for _, attrs in page.tags), "inline style"
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)
    for link in page.all("link") + page.all("script"):
        url = link.get("href") or link.get("src") or ""
        assert url.startswith("/portal/static/"), f"not shipped with the package: {url}"
    labelled = {label.get("for") for label in page.all("label")}
    for field in page.all("input"):
        if field.get("type") != "hidden":
            assert field.get("id") in labelled, f"input without a label: {field}"
    return page


@pytest.mark.parametrize("path", ["/", "/portal/smtp"])
async def test_signed_out_page_is_the_sign_in_form(http: httpx.AsyncClient, path: str) -> None:
    response = await http.get(path)  # no Keyfactor headers, no credentials
    assert response.status_code == 200
    page = check_page_basics(response)
    form = page.all("form")[0]
    assert form["action"] == "/portal/session" and form["method"] == "post"
    assert "csrf-token" not in response.text


async def test_admin_page(http: httpx.AsyncClient) -> None:
    token = await sign_in(http)
    response = await http.get("/portal/smtp")
    assert response.status_code == 200
    page = check_page_basics(response)
    meta = [m for m in page.all("meta") if m.get("name") == "csrf-token"]
    assert meta[0]["content"] == token
    assert page.all("body")[0]["data-may-write"] == "true"
    assert page.by_id("save") is not None and page.by_id("test-send") is not None
    assert page.by_id("read-only-note") is None
    fieldset = page.by_id("profile-fields")
    assert fieldset is not None and "disabled" not in fieldset[1]
    assert page.by_id("test-result")[1]["aria-live"] == "polite"  # type: ignore[index]
    for name in ("Host", "Port", "UseSSL", "RelayUsername", "RelayPassword", "SenderAccount"):
        assert page.by_id(f"{name}-error") is not None, f"no place for {name}'s error"
    password = page.by_id("RelayPassword")
    assert password is not None and password[1].get("value") is None


async def test_reader_page_is_read_only(http: httpx.AsyncClient) -> None:
    await sign_in(http, READER)
    response = await http.get("/")
    page = check_page_basics(response)
    assert page.all("body")[0]["data-may-write"] == "false"
    fieldset = page.by_id("profile-fields")
    assert fieldset is not None and "disabled" in fieldset[1]
    assert page.by_id("read-only-note") is not None
    assert page.by_id("save") is None and page.by_id("test-send") is None


async def test_assets_are_served_from_the_package(http: httpx.AsyncClient) -> None:
    await sign_in(http)
    html = (await http.get("/portal/smtp")).text
    urls = re.findall(r'(?:href|src)="(/portal/static/[^"]+)"', html)
    assert {url.split("?")[0].rsplit("/", 1)[1] for url in urls} == {
        "favicon.svg",
        "portal.css",
        "portal.js",
    }
    for url in urls:
        asset = await http.get(url)
        assert asset.status_code == 200, url
        assert asset.headers["x-content-type-options"] == "nosniff"
    assert (
        (await http.get("/portal/static/portal.js"))
        .headers["content-type"]
        .startswith("text/javascript")
    )


@pytest.mark.parametrize("path", ["/portal/static/", "/portal/static/../sessions.py"])
async def test_no_listing_and_no_escape(http: httpx.AsyncClient, path: str) -> None:
    assert (await http.get(path)).status_code == 404
