"""Property-based fuzzing of the API from its own OpenAPI document (schemathesis 4).

Every operation in ``/openapi.json`` is driven in-process (ASGI) with schemathesis's
positive and negative data, as an admin. After every request:

* no 5xx, status code, content type, headers and body as documented (the document as
  served, with the deviations of :mod:`tests.hardening.openapi_fixes` corrected; each of
  those is pinned by a strict xfail in ``test_openapi_document.py``);
* negative (schema-invalid) data is rejected with a 4xx;
* a PUT that is refused, and every Test, leaves the profile as it was: GET before and
  after compare body and ETag, and no ``put`` audit record is added; an accepted PUT is
  what GET returns afterwards, under a newer ETag, with one more ``put`` record.

A second pair of tests feeds PUT and Test with bodies from :mod:`tests.hardening.bodies`
(valid profiles with a few things broken), which get much further than schema-drawn
strings; there also no response may contain a submitted password.

No request leaves the machine: the runtime's resolver fails every name, the egress
policy allows only 127.0.0.0/8 and only two ports there (one that refuses, one SMTP
sink), and the timeouts are short.

schemathesis's pytest integration (``schema.parametrize()`` / ``from_fixture``) is not
used: ``from_fixture`` reads ``request.node._nodeid``, which pytest 9 removed. The
operations' public ``as_strategy`` / ``Case`` / ``validate_response`` are.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import CheckContext, not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.transport import Response
from schemathesis.specs.openapi import checks as openapi_checks

from smtp_profile.api.app import create_app
from smtp_profile.runtime import Runtime, open_runtime
from smtp_profile.store.audit import AuditFilter
from tests.conftest import ADMIN, add_users, make_settings
from tests.hardening.bodies import PASSWORD_MARK, Ports, Request, requests
from tests.hardening.openapi_fixes import corrected
from tests.hardening.support import NameLookups, SyncClient, basic, refusing_port, smtp_sink

ADMIN_AUTH = basic(*ADMIN)
SMTP_PATH = "/KeyfactorAPI/SMTP"
TEST_PATH = "/KeyfactorAPI/SMTP/Test"
# Every operation the document must have; a new route fails test_every_route_is_fuzzed
# until it is added here (and so fuzzed).
OPERATIONS = (
    "GET /KeyfactorAPI/SMTP",
    "PUT /KeyfactorAPI/SMTP",
    "POST /KeyfactorAPI/SMTP/Test",
    "GET /KeyfactorAPI/Audit",
    "GET /health/live",
    "GET /health/ready",
    "GET /metrics",
)
WITHOUT_INPUT = {"GET /health/live", "GET /health/ready", "GET /metrics"}
EXAMPLES = {GenerationMode.POSITIVE: 200, GenerationMode.NEGATIVE: 200}
TARGETED_EXAMPLES = 500


@schemathesis.check
def rejects_negative_data(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """schemathesis's negative_data_rejection, except where the query is "invalid" only by
    the service's documented reading of it (``api/query.py``): the last value of a repeated
    parameter counts (``?Page=x&Page=2`` is page 2), and an empty value means absent
    (``?From=`` is no lower bound)."""
    if any(isinstance(value, list) or value == "" for value in (case.query or {}).values()):
        return None
    return openapi_checks.negative_data_rejection(ctx, response, case)


CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    rejects_negative_data,
]
# Requests sent, by part of the suite; printed (-s) when the module is done.
SENT: Counter[str] = Counter()


def fuzz_settings(max_examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        # The same requests every run (a suite that fails at random helps no one);
        # HARDENING_RANDOM=1 explores new ones.
        derandomize=not os.environ.get("HARDENING_RANDOM"),
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


@dataclass(frozen=True)
class Observed:
    status: int
    body: bytes
    etag: str | None
    puts: int


@dataclass
class Target:
    """The app under test, its schema (from its own /openapi.json) and a client."""

    runtime: Runtime
    client: SyncClient
    schema: Any
    ports: Ports
    lookups: NameLookups
    statuses: Counter[str] = field(default_factory=Counter)

    def observe(self) -> Observed:
        got = self.client.get(SMTP_PATH, headers=_api_headers())
        _, puts = self.runtime.trail.page(AuditFilter(operation="put"), page=1, page_size=1)
        return Observed(got.status_code, got.content, got.headers.get("etag"), puts)

    def check_effect(
        self, method: str, path: str, before: Observed, status: int, body: bytes, etag: str | None
    ) -> None:
        after = self.observe()
        assert after.status == 200
        if method == "PUT" and status == 200:
            assert json.loads(after.body) == json.loads(body), "GET differs from the PUT answer"
            assert after.etag == etag and etag != before.etag, (before.etag, etag, after.etag)
            assert _revision(etag) > _revision(before.etag)
            assert after.puts == before.puts + 1, "an accepted PUT is audited once"
        else:
            assert (after.body, after.etag) == (before.body, before.etag), (
                f"{method} {path} answered {status} and changed the profile"
            )
            assert after.puts == before.puts, f"{method} {path} ({status}) added a put record"


_LINE_BREAKERS = {"\u2028", "\u2029"}


def assert_valid_stored(view: dict[str, Any]) -> None:
    """What spec section 2 and 7 say any stored profile is."""
    assert view["Id"] == 1 and "RelayPassword" not in view
    assert view["RelayAuthenticationType"] in (0, 1, 2)
    assert isinstance(view["Port"], int) and 1 <= view["Port"] <= 65535
    assert isinstance(view["UseSSL"], bool) and isinstance(view["HasPassword"], bool)
    if view["RelayAuthenticationType"] == 2:
        assert view["RelayUsername"] and view["HasPassword"], view
    else:
        assert view["RelayUsername"] is None and view["HasPassword"] is False, view
    for name, limit in (("Host", 253), ("SenderAccount", 320), ("SenderName", 255)):
        value = view[name]
        assert isinstance(value, str) and value.strip() and len(value) <= limit, (name, value)
        assert not any(unicodedata.category(ch) == "Cc" or ch in _LINE_BREAKERS for ch in value), (
            name,
            value,
        )
    assert not any(ch.isspace() for ch in view["Host"]), view["Host"]


def _first(values: list[str] | None) -> str | None:
    """schemathesis keeps every value of a response header."""
    return values[0] if values else None


def _revision(etag: str | None) -> int:
    assert etag is not None and etag.startswith('"r') and etag.endswith('"'), etag
    return int(etag[2:-1])


def _api_headers() -> dict[str, str]:
    return {"Authorization": ADMIN_AUTH, "X-Keyfactor-Requested-With": "APIClient"}


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    lookups = NameLookups()
    with refusing_port() as refused, smtp_sink() as sink:
        settings_ = make_settings(
            tmp_path / "data",
            egress_allow=("127.0.0.0/8",),
            egress_ports=frozenset({refused, sink.port}),
            connect_timeout=0.5,
            command_timeout=0.5,
            test_timeout=1.0,
        )
        runtime = open_runtime(settings_, resolver=lookups)
        try:
            add_users(runtime)
            app = create_app(runtime)
            client = SyncClient(app)
            try:
                served = client.get("/openapi.json")
                assert served.status_code == 200
                schema = schemathesis.openapi.from_dict(
                    corrected(served.json()), config=SchemathesisConfig()
                )
                schema.app = app
                yield Target(runtime, client, schema, Ports(refused, sink.port), lookups)
            finally:
                client.close()
        finally:
            runtime.close()


def _operation(target: Target, label: str) -> Any:
    method, path = label.split(" ", 1)
    return target.schema[path][method]


def test_every_route_is_fuzzed(target: Target) -> None:
    found = sorted(
        f"{op.ok().method.upper()} {op.ok().path}" for op in target.schema.get_all_operations()
    )
    assert found == sorted(OPERATIONS)
    # The web page's routes (/, /portal/smtp, /portal/session) are not in the document.
    assert not [label for label in found if "/portal" in label or label.endswith(" /")]


# Negative data needs something to make invalid: the health and metrics routes take none.
RUNS = [
    pytest.param(label, mode, id=f"{label}-{mode.value}")
    for label in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or label not in WITHOUT_INPUT
]


@pytest.mark.parametrize(("label", "mode"), RUNS)
def test_schemathesis(target: Target, label: str, mode: GenerationMode) -> None:
    operation = _operation(target, label)
    method = label.split(" ", 1)[0]
    # Positive data comes with the required header filled in; negative data keeps what
    # schemathesis made of it (missing, wrong). Credentials are always an admin's.
    extra = {"Authorization": ADMIN_AUTH}
    if mode is GenerationMode.POSITIVE:
        extra["X-Keyfactor-Requested-With"] = "APIClient"

    @fuzz_settings(EXAMPLES[mode])
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Case[Any]) -> None:
        before = target.observe() if method in ("PUT", "POST") else None
        response = case.call(headers=extra)
        SENT[f"schemathesis {mode.value}"] += 1
        target.statuses[f"{label} {response.status_code}"] += 1
        case.validate_response(response, checks=CHECKS)
        if before is not None:
            target.check_effect(
                method,
                case.path,
                before,
                response.status_code,
                response.content,
                _first(response.headers.get("etag")),
            )

    exercise()
    assert sum(target.statuses.values()) > 0
    print(f"\n{label} [{mode.value}]: {dict(sorted(target.statuses.items()))}")


def _send(target: Target, path: str, request: Request, extra: dict[str, str]) -> Any:
    headers = {**_api_headers(), **extra}
    if request.content_type is not None:
        headers["Content-Type"] = request.content_type
    method = "PUT" if path == SMTP_PATH else "POST"
    return target.client.request(
        method, path, content=request.content, headers=headers, params=request.query
    )


def _validate(target: Target, label: str, request: Request, response: Any) -> None:
    operation = _operation(target, label)
    case = operation.Case(headers=_api_headers(), query=request.query or None)
    case.validate_response(response, checks=CHECKS[:-1])
    password = request.password
    if password is not None and password.startswith(PASSWORD_MARK):
        assert password not in response.text, f"{label} echoed the password"


@pytest.mark.parametrize("label", ["PUT /KeyfactorAPI/SMTP", "POST /KeyfactorAPI/SMTP/Test"])
def test_mutated_profiles(target: Target, label: str) -> None:
    test = label.startswith("POST")
    path = TEST_PATH if test else SMTP_PATH
    passwords: list[str] = []

    @fuzz_settings(TARGETED_EXAMPLES)
    @given(request=requests(target.ports, test=test), if_match=_if_match_choices())
    def exercise(request: Request, if_match: str | None) -> None:
        before = target.observe()
        extra: dict[str, str] = {}
        if not test and if_match is not None:
            assert before.etag is not None
            extra["If-Match"] = before.etag if if_match == "current" else if_match
        response = _send(target, path, request, extra)
        SENT["mutated profiles"] += 1
        target.statuses[f"{label} {response.status_code}"] += 1
        _validate(target, label, request, response)
        target.check_effect(
            "POST" if test else "PUT",
            path,
            before,
            response.status_code,
            response.content,
            response.headers.get("etag"),
        )
        if request.password is not None and request.password.startswith(PASSWORD_MARK):
            passwords.append(request.password)
        if not test and response.status_code == 200:
            stored = response.json()
            assert_valid_stored(stored)
            round_trip(stored)

    def round_trip(stored: dict[str, Any]) -> None:
        """What the service stored, sent back as it reads (no password: same destination,
        so the stored one is kept), is accepted and stored unchanged."""
        body = {k: v for k, v in stored.items() if k != "HasPassword"}
        again = _send(
            target, SMTP_PATH, Request(json.dumps(body).encode(), "application/json", body), {}
        )
        SENT["mutated profiles"] += 1
        assert again.status_code == 200, (body, again.text)
        assert again.json() == stored

    exercise()
    # The bodies got past validation: some were stored (PUT) or sent (Test).
    assert target.statuses[f"{label} 200"] > 0, dict(target.statuses)
    assert target.statuses[f"{label} 400"] > 0, dict(target.statuses)
    # No password ever came back, from any endpoint.
    audit = target.client.get("/KeyfactorAPI/Audit?PageSize=500", headers=_api_headers())
    assert audit.status_code == 200
    for password in passwords:
        assert password not in audit.text
        assert password not in target.observe().body.decode()
    print(f"\n{label} [mutated]: {dict(sorted(target.statuses.items()))}")


def _if_match_choices() -> st.SearchStrategy[str | None]:
    return st.sampled_from([None, None, None, "current", '"r0"', '"r999999"', "*", "garbage", ""])


@pytest.fixture(scope="module", autouse=True)
def _report_requests() -> Iterator[None]:
    yield
    print(f"\nrequests sent by the fuzz suite: {dict(SENT)}, total {sum(SENT.values())}")
