"""The management page with OAuth 2.0 (type 3), in headless Chromium against the real
service, a real token endpoint and an XOAUTH2 relay (both in a background loop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import LiveService, screenshot, sign_in
from tests.browser.test_portal import Recorder, api, save
from tests.oauth.relay import OAuthRelay, start_oauth_relay
from tests.oauth.token_server import SCOPE, TokenEndpoint

pytestmark = pytest.mark.browser

CLIENT_ID = "0e3c-browser-client-id"
CLIENT_SECRET = "Br0wser~client.secret-never-shown"


@dataclass
class Peers:
    endpoint: TokenEndpoint
    relay: OAuthRelay


@pytest.fixture(scope="module")
def peers() -> Iterator[Peers]:
    """The token endpoint and the relay in their own thread and loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coroutine: object) -> object:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(10)  # type: ignore[arg-type]

    endpoint = run(TokenEndpoint(clients={CLIENT_ID: CLIENT_SECRET}).start())
    assert isinstance(endpoint, TokenEndpoint)
    relay = run(start_oauth_relay(endpoint))
    assert isinstance(relay, OAuthRelay)
    try:
        yield Peers(endpoint, relay)
    finally:
        run(relay.stop())
        run(endpoint.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)


@pytest.fixture(autouse=True)
def fresh_profile(live: LiveService) -> None:
    body = {"Host": "start.example.test", "SenderAccount": "a@example.test", "SenderName": "S"}
    with api() as client:
        assert client.put(f"{live.base_url}/KeyfactorAPI/SMTP", json=body).status_code == 200


def fill_oauth(page: Page, peers: Peers) -> None:
    page.get_by_label("Host", exact=True).fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill(str(peers.relay.port))
    page.get_by_label("Use SSL/TLS").set_checked(False)
    page.get_by_label("OAuth 2.0 (client credentials)").check()
    page.get_by_label("Client ID", exact=True).fill(CLIENT_ID)
    page.get_by_label("Client secret", exact=True).fill(CLIENT_SECRET)
    page.get_by_label("Token endpoint").fill(peers.endpoint.url())
    page.get_by_label("Scope").fill(SCOPE)
    page.get_by_label("Sender address").fill("alerts@example.test")
    page.get_by_label("Sender name").fill("Certificate Alerts")


def test_oauth_profile_saved_reloaded_and_tested(
    page: Page, live: LiveService, peers: Peers
) -> None:
    recorder = Recorder()
    page.route("**/*", recorder)
    sign_in(page)
    expect(page.locator("#oauth-fields")).to_be_hidden()
    fill_oauth(page, peers)
    expect(page.locator("#explicit-fields")).to_be_hidden()
    screenshot(page, "oauth-form-filled")
    save(page)
    expect(page.locator("#form-status")).to_have_text("Saved.")
    expect(page.locator("#clientsecret-stored")).to_contain_text("A client secret is stored.")
    expect(page.locator("#clientid-stored")).to_contain_text("A client ID is stored.")

    page.reload()
    page.locator('#profile-form[aria-busy="false"]').wait_for()
    expect(page.get_by_label("OAuth 2.0 (client credentials)")).to_be_checked()
    expect(page.get_by_label("Token endpoint")).to_have_value(peers.endpoint.url())
    expect(page.get_by_label("Scope")).to_have_value(SCOPE)
    expect(page.locator("#clientsecret-entry")).to_be_hidden()

    page.get_by_label("Recipient").fill("you@example.test")
    page.get_by_role("button", name="Send test e-mail").click()
    outcome = page.locator("#test-outcome")
    expect(outcome).to_have_attribute("data-outcome", "success")
    outcome.locator("summary").click()
    expect(outcome.locator("pre")).to_contain_text("AUTH XOAUTH2 ***")
    assert [a.accepted for a in peers.relay.attempts] == [True]
    token = peers.relay.attempts[0].token

    # A changed token endpoint never receives the stored client secret.
    page.get_by_label("Token endpoint").fill("https://login.example.test/other/token")
    expect(page.locator("#clientsecret-destination-note")).to_be_visible()
    expect(page.locator("#clientid-destination-note")).to_be_visible()
    screenshot(page, "oauth-destination-changed")

    content = page.content() + "\n".join(recorder.seen)
    for secret in (CLIENT_SECRET, token):
        assert secret not in content
    with httpx.Client(headers={"X-Keyfactor-Requested-With": "APIClient"}) as client:
        stored = client.get(
            f"{live.base_url}/KeyfactorAPI/SMTP",
            auth=("admin", "admin-password-123"),
            headers={"X-Keyfactor-Api-Version": "2"},
        ).json()
    assert stored["RelayAuthenticationType"] == 3 and stored["ClientSecret"]["SecretValue"] is None


def test_oauth_errors_are_shown_next_to_the_field(page: Page, peers: Peers) -> None:
    sign_in(page)
    fill_oauth(page, peers)
    page.get_by_label("Token endpoint").fill("http://login.example.test/token")
    save(page)
    expect(page.locator("#TokenEndpoint-error")).to_contain_text("must use https")
    expect(page.get_by_label("Token endpoint")).to_be_focused()
