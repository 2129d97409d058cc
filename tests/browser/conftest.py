"""End-to-end fixtures: the real service under uvicorn on 127.0.0.1 (a background thread),
Debian's headless Chromium driven by Playwright, and a local aiosmtpd relay.

Chromium is /usr/bin/chromium from Debian (tests/browser/install-debian-packages.sh);
Playwright never downloads a browser here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    sync_playwright,
)

from smtp_profile.api.app import create_app
from smtp_profile.runtime import Runtime, open_runtime
from tests.conftest import ADMIN, add_users, make_settings
from tests.support.smtpd import RecordingHandler

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP: ViewportSize = {"width": 1100, "height": 900}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class LiveService:
    base_url: str
    runtime: Runtime


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, ca_file: Path) -> Iterator[LiveService]:
    """The real ASGI app under uvicorn, with the test users, on a free loopback port."""
    runtime = open_runtime(make_settings(tmp_path_factory.mktemp("live"), ca_file=ca_file))
    add_users(runtime)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime), log_level="warning", ws="none", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield LiveService(f"http://127.0.0.1:{port}", runtime)
    finally:
        server.should_exit = True
        thread.join(10)
        listener.close()
        runtime.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Module scope: between its sync calls Playwright leaves its event loop marked as
    running in this thread, so it must be gone before other modules' async tests run."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run tests/browser/install-debian-packages.sh")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Console:
    """Console errors other than the failed-request lines Chromium logs for 4xx answers
    (CSP violations and script errors end up here)."""

    errors: list[str] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(message.text)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def context(chromium: Browser, live: LiveService) -> Iterator[BrowserContext]:
    context = chromium.new_context(base_url=live.base_url, viewport=DESKTOP)
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext, console: Console) -> Iterator[Page]:
    page = context.new_page()
    page.on("console", console.on_message)
    page.on("pageerror", lambda error: console.errors.append(f"page error: {error}"))
    yield page
    assert console.errors == [], console.errors


def sign_in(page: Page, user: tuple[str, str] = ADMIN) -> None:
    page.goto("/portal/smtp")
    page.get_by_label("User name").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="SMTP relay profile").wait_for()
    # The profile has loaded once the form is no longer busy.
    page.locator('#profile-form[aria-busy="false"]').wait_for()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@dataclass
class Relay:
    host: str
    port: int
    handler: RecordingHandler


@pytest.fixture
def relay() -> Iterator[Relay]:
    """aiosmtpd in its own thread and loop (the browser tests are synchronous)."""
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield Relay("127.0.0.1", controller.port, handler)
    finally:
        controller.stop()
