"""The management page in a real headless Chromium against the real service."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.conftest import (
    SCREENSHOTS,
    LiveService,
    Relay,
    free_port,
    screenshot,
    sign_in,
)
from tests.conftest import ADMIN, API_HEADERS, READER

pytestmark = pytest.mark.browser

PASSWORD = "Relay-Pa55word-never-shown"


@pytest.fixture(autouse=True)
def fresh_profile(live: LiveService) -> None:
    """Each test starts from an anonymous profile with no stored password."""
    body = {"Host": "start.example.test", "SenderAccount": "a@example.test", "SenderName": "S"}
    with api() as client:
        assert client.put(f"{live.base_url}/KeyfactorAPI/SMTP", json=body).status_code == 200


def fill_profile(
    page: Page,
    *,
    host: str,
    port: int | str,
    ssl: bool,
    auth: str = "Anonymous",
    username: str | None = None,
    sender: str = "alerts@example.test",
    name: str = "Certificate Alerts",
) -> None:
    page.get_by_label("Host", exact=True).fill(host)
    page.get_by_label("Port", exact=True).fill(str(port))
    page.get_by_label("Use SSL/TLS").set_checked(ssl)
    page.get_by_label(auth).check()
    if username is not None:
        page.locator("#RelayUsername").fill(username)
    page.get_by_label("Sender address").fill(sender)
    page.get_by_label("Sender name").fill(name)


def save(page: Page) -> None:
    page.get_by_role("button", name="Save", exact=True).click()


def api() -> httpx.Client:
    return httpx.Client(headers=API_HEADERS, auth=ADMIN, timeout=10)


def fetch_status(page: Page, method: str, headers: dict[str, str]) -> int:
    """A request the page's own origin makes with its session cookie."""
    return int(
        page.evaluate(
            """async ([method, headers]) => {
                const body = JSON.stringify({Host: "forced.example.test", Port: 25,
                  SenderAccount: "a@example.test", SenderName: "Forced"});
                const response = await fetch("/KeyfactorAPI/SMTP", {method,
                  headers: {"Content-Type": "application/json", ...headers}, body});
                return response.status;
            }""",
            [method, headers],
        )
    )


def csrf_token(page: Page) -> str:
    return str(page.locator('meta[name="csrf-token"]').get_attribute("content"))


def test_sign_in_wrong_password_and_sign_out(page: Page) -> None:
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "signed-out")
    page.get_by_label("User name").fill("CORP\\admin")
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The user name or password is wrong.")
    expect(page.get_by_label("User name")).to_have_value("CORP\\admin")

    sign_in(page, ("CORP\\admin", ADMIN[1]))
    expect(page.locator("#signed-in-user")).to_have_text("admin")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == "smtp_profile_session"]


def test_save_reload_and_explanations(page: Page) -> None:
    sign_in(page)
    fill_profile(page, host="smtp.example.test", port=587, ssl=True, auth="Explicit credentials")
    page.locator("#RelayUsername").fill("CORP\\svc-mail")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    expect(page.locator("#tls-explain")).to_contain_text("STARTTLS")
    expect(page.locator("#tls-warnings")).to_be_hidden()
    screenshot(page, "form-filled")
    save(page)
    expect(page.locator("#form-status")).to_have_text("Saved.")
    expect(page.locator("#password-stored")).to_contain_text("A password is stored.")

    page.reload()
    page.locator('#profile-form[aria-busy="false"]').wait_for()
    expect(page.get_by_label("Host", exact=True)).to_have_value("smtp.example.test")
    expect(page.get_by_label("Port", exact=True)).to_have_value("587")
    expect(page.get_by_label("Use SSL/TLS")).to_be_checked()
    expect(page.get_by_label("Explicit credentials")).to_be_checked()
    expect(page.locator("#RelayUsername")).to_have_value("CORP\\svc-mail")
    expect(page.get_by_label("Sender address")).to_have_value("alerts@example.test")
    expect(page.locator("#password-stored")).to_be_visible()
    expect(page.locator("#password-entry")).to_be_hidden()

    page.get_by_label("Port", exact=True).fill("465")
    expect(page.locator("#tls-explain")).to_contain_text("TLS from the first byte")
    page.get_by_label("Use SSL/TLS").uncheck()
    expect(page.locator("#tls-explain")).to_contain_text("no encryption")

    history = page.locator("#history-list")
    expect(history).to_contain_text("Saved")
    expect(history).to_contain_text("Host: ")


@dataclass
class Recorder:
    """Every response the page receives, headers and body, through a route."""

    seen: list[str] = field(default_factory=list)

    def __call__(self, route: Route) -> None:
        response = route.fetch(max_redirects=0)
        headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
        self.seen.append(f"{route.request.method} {route.request.url}\n{headers}\n")
        self.seen.append(response.body().decode("utf-8", "replace"))
        route.fulfill(response=response)


def test_password_is_write_only(page: Page, live: LiveService) -> None:
    recorder = Recorder()
    page.route("**/*", recorder)
    sign_in(page)
    fill_profile(page, host="127.0.0.1", port=2525, ssl=False, auth="Explicit credentials")
    page.locator("#RelayUsername").fill("svc-mail")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    save(page)
    expect(page.locator("#form-status")).to_have_text("Saved.")
    expect(page.locator("#RelayPassword")).to_have_value("")

    page.reload()
    page.locator('#profile-form[aria-busy="false"]').wait_for()
    # Keyboard: from the user name, Tab reaches "Replace"; Enter opens an empty input.
    page.locator("#RelayUsername").focus()
    page.keyboard.press("Tab")
    replace = page.get_by_role("button", name="Replace")
    expect(replace).to_be_focused()
    outline = replace.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("", "none"), "no visible focus outline"
    page.keyboard.press("Enter")
    new_password = page.get_by_label("New password")
    expect(new_password).to_be_focused()
    expect(new_password).to_have_value("")
    page.get_by_role("button", name="Keep the stored password").click()

    assert PASSWORD not in page.content()
    received = "\n".join(recorder.seen)
    assert "/KeyfactorAPI/SMTP" in received
    assert PASSWORD not in received

    # A changed host never gets the stored password: the server says so next to the field.
    page.get_by_label("Host", exact=True).fill("other.example.test")
    expect(page.locator("#password-destination-note")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("button", name="Save anyway").click()  # explicit credentials, no SSL
    error = page.locator("#RelayPassword-error")
    expect(error).to_contain_text("RelayPassword is required")
    expect(page.get_by_label("New password")).to_be_focused()
    with api() as client:
        assert client.get(f"{live.base_url}/KeyfactorAPI/SMTP").json()["Host"] == "127.0.0.1"


def test_server_messages_next_to_the_field(page: Page) -> None:
    sign_in(page)
    fill_profile(page, host="smtp.example.test", port=70000, ssl=False)
    save(page)
    expect(page.locator("#Port-error")).to_have_text("Port must be between 1 and 65535.")
    expect(page.get_by_label("Port", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Port", exact=True)).to_be_focused()

    page.get_by_label("Port", exact=True).fill("25")
    page.get_by_label("Host", exact=True).fill("")
    save(page)
    expect(page.locator("#Host-error")).to_have_text("Host is required.")
    expect(page.locator("#Port-error")).to_be_hidden()


def test_mismatch_warning_before_saving(page: Page) -> None:
    sign_in(page)
    fill_profile(page, host="smtp.example.test", port=465, ssl=False)
    expect(page.locator("#tls-warnings")).to_contain_text("Port 465 expects TLS")
    save(page)
    warnings = page.locator("#save-warnings")
    expect(warnings).to_be_visible()
    expect(warnings).to_be_focused()
    page.get_by_role("button", name="Go back and change").click()
    expect(warnings).to_be_hidden()
    page.get_by_label("Use SSL/TLS").check()
    expect(page.locator("#tls-warnings")).to_be_hidden()
    save(page)
    expect(page.locator("#form-status")).to_have_text("Saved.")


def test_conflict_is_shown_and_not_overwritten(page: Page, live: LiveService) -> None:
    sign_in(page)
    fill_profile(page, host="mine.example.test", port=25, ssl=False)
    with api() as client:
        other = {"Host": "theirs.example.test", "Port": 25, "SenderAccount": "a@example.test"}
        saved = client.put(f"{live.base_url}/KeyfactorAPI/SMTP", json={**other, "SenderName": "X"})
        assert saved.status_code == 200
        save(page)
        expect(page.locator("#form-status")).to_contain_text("someone else saved")
        assert client.get(f"{live.base_url}/KeyfactorAPI/SMTP").json()["Host"] == (
            "theirs.example.test"
        )
    expect(page.get_by_label("Host", exact=True)).to_have_value("mine.example.test")
    page.get_by_role("button", name="Reload the current profile").click()
    expect(page.get_by_label("Host", exact=True)).to_have_value("theirs.example.test")


def test_send_test_email_success(page: Page, relay: Relay) -> None:
    sign_in(page)
    fill_profile(page, host=relay.host, port=relay.port, ssl=False)
    page.get_by_label("Recipient").fill("you@example.test")
    held: list[Route] = []
    page.route("**/KeyfactorAPI/SMTP/Test", lambda route: held.append(route))
    button = page.get_by_role("button", name="Send test e-mail")
    button.click()
    expect(button).to_be_disabled()
    expect(page.locator("#test-progress")).to_be_visible()
    page.locator("#test-form").evaluate("form => form.requestSubmit()")  # a second submit
    page.wait_for_timeout(100)
    assert len(held) == 1, "a running test must not be submitted twice"
    held[0].continue_()

    outcome = page.locator("#test-outcome")
    expect(outcome).to_have_attribute("data-outcome", "success")
    expect(outcome).to_contain_text("Test e-mail sent")
    expect(outcome).to_contain_text("Duration")
    expect(button).to_be_enabled()
    expect(page.locator("#test-progress")).to_be_hidden()
    transcript = outcome.locator("details")
    expect(transcript.locator("pre")).to_be_hidden()
    transcript.locator("summary").click()
    expect(transcript.locator("pre")).to_contain_text("250")
    assert [m.rcpt_tos for m in relay.handler.messages] == [["you@example.test"]]
    assert b"Certificate Alerts" in relay.handler.messages[0].content
    expect(page.locator("#history-list")).to_contain_text("Test")
    screenshot(page, "test-success")


def test_send_test_email_to_a_closed_port(page: Page) -> None:
    sign_in(page)
    fill_profile(page, host="127.0.0.1", port=free_port(), ssl=False)
    page.get_by_label("Recipient").fill("you@example.test")
    page.get_by_label("Recipient").press("Enter")
    outcome = page.locator("#test-outcome")
    expect(outcome).to_have_attribute("data-outcome", "failure")
    expect(outcome.locator("h3")).to_have_text(re.compile("failed at step .connect."))
    expect(outcome.locator(".hint")).to_contain_text("Check Port")
    expect(outcome).to_contain_text("Server reply")
    screenshot(page, "test-failure")


def test_reader_sees_a_read_only_page(page: Page) -> None:
    sign_in(page, READER)
    expect(page.locator("#read-only-note")).to_be_visible()
    for label in ("Host", "Port", "Sender address", "Sender name"):
        expect(page.get_by_label(label, exact=True)).to_be_disabled()
    expect(page.get_by_label("Use SSL/TLS")).to_be_disabled()
    expect(page.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Send test e-mail")).to_have_count(0)
    screenshot(page, "reader-view")
    headers = {"X-Keyfactor-Requested-With": "XMLHttpRequest", "X-CSRF-Token": csrf_token(page)}
    assert fetch_status(page, "PUT", headers) == 403


def test_request_without_csrf_token_is_refused(page: Page) -> None:
    sign_in(page)
    xhr = {"X-Keyfactor-Requested-With": "XMLHttpRequest"}
    assert fetch_status(page, "PUT", xhr) == 403
    assert fetch_status(page, "PUT", {**xhr, "X-CSRF-Token": "guessed"}) == 403
    assert fetch_status(page, "PUT", {**xhr, "X-CSRF-Token": csrf_token(page)}) == 200


def test_phone_width(page: Page) -> None:
    page.set_viewport_size({"width": 375, "height": 812})
    sign_in(page)
    page.get_by_label("Explicit credentials").check()
    page.get_by_label("Recipient").fill("you@example.test")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page scrolls sideways at 375 px ({width} px wide)"
    screenshot(page, "phone-375-full")
    page.get_by_role("heading", name="Relay", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "phone-375.png"))
    page.locator("#auth-group").screenshot(path=str(SCREENSHOTS / "phone-375-authentication.png"))


def test_history_panel_hidden_on_404_and_rendered_defensively(page: Page) -> None:
    page.route(
        "**/KeyfactorAPI/Audit*",
        lambda route: route.fulfill(
            status=404, content_type="application/json", body='{"ErrorCode":"0xA0300001"}'
        ),
    )
    sign_in(page)
    expect(page.locator("#history")).to_be_hidden()

    odd = {
        "Items": [
            None,
            "not an object",
            {"Id": 1, "Time": "not a time", "User": None, "Operation": 7, "Changes": "x"},
            {
                "Id": 2,
                "Time": "2026-01-31T12:00:00+00:00",
                "User": "<img src=x id=injected>",
                "ClientAddress": "::1",
                "Operation": "put",
                "Outcome": "ok",
                "Changes": [{"Field": "Port", "Before": 25, "After": {"n": 587}}, None],
                "Detail": "<b>bold?</b>",
            },
        ],
        "Total": "many",
    }
    page.unroute("**/KeyfactorAPI/Audit*")
    page.route("**/KeyfactorAPI/Audit*", lambda route: route.fulfill(json=odd))
    page.evaluate("document.getElementById('history-refresh').click()")
    history = page.locator("#history")
    expect(history).to_be_visible()
    expect(history.locator("#history-list > li")).to_have_count(2)
    expect(history).to_contain_text("<img src=x id=injected>")
    expect(history).to_contain_text('Port: 25 → {"n":587}')
    expect(history).to_contain_text("<b>bold?</b>")
    assert page.locator("#injected").count() == 0
