"""Helpers for the real-MTA suite: an API over a runtime, assertions, a TLS front.

Everything here drives the service the way a client does (HTTP, in process) and reads
the result back from the relay bed's Maildir; nothing reaches into ``src``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from smtp_profile.errors import STAGE_CODES
from smtp_profile.mail.diagnosis import Failure, Stage, hint_for
from smtp_profile.mail.sender import Resolver, system_resolver
from smtp_profile.runtime import Runtime, open_runtime
from tests.conftest import add_users, api_client, make_settings, profile_body
from tests.relay.bed import RunningBed

TEST_PATH = "/KeyfactorAPI/SMTP/Test"
PROFILE_PATH = "/KeyfactorAPI/SMTP"
SENDER = "alerts@example.test"
SENDER_NAME = "Certificate Alerts"
TRANSCRIPT_LINE = re.compile(r"\+\d+\.\d{3}s [CS*]: .*")
# Short enough to keep the folder fast, long enough for a loaded CI machine.
COMMAND_TIMEOUT = 2.0
TEST_TIMEOUT = 5.0


def recipient(tag: str) -> str:
    """A fresh address at the bed's catch-all domain: each test finds its own copy."""
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.test"


def base_settings(bed: RunningBed) -> dict[str, Any]:
    return {
        "ca_file": bed.ca_pem,
        "implicit_tls_ports": frozenset({bed.smtps_port}),
        "connect_timeout": COMMAND_TIMEOUT,
        "command_timeout": COMMAND_TIMEOUT,
        "test_timeout": TEST_TIMEOUT,
        # Unknown to older Settings (extra="ignore"); one test may run many Tests.
        "test_rate_limit": 0,
    }


@dataclass
class RelayApi:
    """The service's HTTP API over one runtime (its own data directory)."""

    http: httpx.AsyncClient
    runtime: Runtime

    async def test(self, port: int, to: str, **overrides: object) -> httpx.Response:
        """POST /SMTP/Test with the conftest profile on ``port`` plus ``overrides``."""
        body = {**profile_body(port, **overrides), "TestRecipient": to}
        return await self.http.post(TEST_PATH, json=body)

    async def put(self, port: int, **overrides: object) -> httpx.Response:
        return await self.http.put(PROFILE_PATH, json=profile_body(port, **overrides))


@contextlib.asynccontextmanager
async def relay_api(
    data_dir: Path, *, resolver: Resolver = system_resolver, **settings: Any
) -> AsyncIterator[RelayApi]:
    runtime = open_runtime(make_settings(data_dir, **settings), resolver=resolver)
    try:
        add_users(runtime)
        async with api_client(runtime) as http:
            yield RelayApi(http, runtime)
    finally:
        runtime.close()


def static_resolver(names: dict[str, list[str]]) -> Resolver:
    """A resolver that knows only ``names``; anything else does not exist (NXDOMAIN)."""

    async def resolve(host: str, port: int) -> list[str]:
        try:
            return list(names[host.lower()])
        except KeyError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    return resolve


# ------------------------------------------------------------------ assertions


def context(body: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in body.items() if k != "Transcript"}, indent=1) + (
        "\n" + "\n".join(body.get("Transcript") or [])
    )


def assert_transcript(lines: list[str]) -> None:
    assert lines, "empty transcript"
    for line in lines:
        assert TRANSCRIPT_LINE.fullmatch(line), line


def assert_sent(response: httpx.Response) -> dict[str, Any]:
    """200, Success, no failure or hint, a transcript that ends with the relay's 250."""
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, context(body)
    assert body["Success"] is True, context(body)
    assert body["Failure"] is None and body["Hint"] is None
    assert body["SmtpCode"] is None and body["Stage"] == Stage.QUIT.value
    assert isinstance(body["DurationMs"], int) and 0 <= body["DurationMs"] < TEST_TIMEOUT * 1000
    assert "RelayPassword" not in body
    assert_transcript(body["Transcript"])
    assert any(re.search(r" S: 250 2\.0\.0 Ok: queued as ", x) for x in body["Transcript"])
    return body


def assert_failed(
    response: httpx.Response, stage: Stage, failure: Failure, code: int | None = None
) -> dict[str, Any]:
    """400 with the error body, the step, the failure class, the catalogue's hint."""
    body: dict[str, Any] = response.json()
    assert response.status_code == 400, context(body)
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert body["Success"] is False
    got = (body["Stage"], body["Failure"], body["SmtpCode"])
    assert got == (stage.value, failure.value, code), context(body)
    assert body["Hint"] == hint_for(failure).text()
    assert body["ErrorCode"] == STAGE_CODES[stage.value]
    assert body["Message"].startswith(f"Test failed at step '{stage.value}'")
    if code is not None:
        assert body["SmtpMessage"], context(body)
        assert str(code) in body["Message"]
    assert isinstance(body["DurationMs"], int)
    assert_transcript(body["Transcript"])
    return body


@dataclass(frozen=True)
class ServerCertificate:
    """What the bed's listeners present, read independently of the service."""

    subject: str
    issuer: str
    not_after: str


def server_certificate(bed: RunningBed) -> ServerCertificate:
    """Fetch the smtps listener's certificate with the standard library."""
    with (
        socket.create_connection((bed.host, bed.smtps_port), timeout=5) as raw,
        bed.ssl_context().wrap_socket(raw, server_hostname=bed.tls_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    ca = x509.load_pem_x509_certificate(bed.ca_pem.read_bytes())
    assert cert.issuer == ca.subject
    return ServerCertificate(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_after=cert.not_valid_after_utc.isoformat(),
    )


def assert_tls(body: dict[str, Any], expected: ServerCertificate) -> None:
    tls = body["Tls"]
    assert tls is not None, context(body)
    assert tls["Version"] in ("TLSv1.2", "TLSv1.3"), tls
    assert tls["Cipher"], tls
    assert tls["Verified"] is True and tls["VerifyError"] is None, tls
    assert (tls["Subject"], tls["Issuer"], tls["NotAfter"]) == (
        expected.subject,
        expected.issuer,
        expected.not_after,
    )


# --------------------------------------------------------------------- secrets


def secret_forms(login: str, password: str) -> dict[str, str]:
    """Every form in which the password could leak: raw, base64, the SASL blobs."""

    def b64(raw: str) -> str:
        return base64.b64encode(raw.encode()).decode("ascii")

    forms = {
        "password": password,
        "base64(password)": b64(password),
        "PLAIN blob": f"\0{login}\0{password}",
        "base64(\\0user\\0password)": b64(f"\0{login}\0{password}"),
        "base64(user\\0user\\0password)": b64(f"{login}\0{login}\0{password}"),
        "base64(user\\0password)": b64(f"{login}\0{password}"),
    }
    return forms


def cram_md5_forms(login: str, password: str, transcript: Iterable[str]) -> dict[str, str]:
    """The CRAM-MD5 response to each challenge the transcript shows (and its digest)."""
    forms: dict[str, str] = {}
    for line in transcript:
        match = re.search(r" S: 334 (\S+)$", line)
        if not match:
            continue
        challenge = base64.b64decode(match.group(1))
        if not challenge.startswith(b"<"):
            continue
        digest = hmac.new(password.encode(), challenge, hashlib.md5).hexdigest()
        forms[f"CRAM-MD5 digest for {challenge!r}"] = digest
        forms[f"CRAM-MD5 response for {challenge!r}"] = base64.b64encode(
            f"{login} {digest}".encode()
        ).decode("ascii")
    return forms


def assert_no_secret(text: str, forms: dict[str, str], where: str) -> None:
    """``text`` holds none of ``forms``, neither verbatim nor JSON-escaped."""
    for name, form in forms.items():
        escaped = json.dumps(form)[1:-1]
        ascii_escaped = json.dumps(form, ensure_ascii=True)[1:-1]
        for shown in {form, escaped, ascii_escaped}:
            assert shown not in text, f"{name} ({shown!r}) appears in {where}"


def assert_auth_redacted(transcript: list[str]) -> None:
    """Client AUTH lines are ``AUTH <MECH> ***`` and every continuation is ``***``."""
    in_auth = False
    seen = False
    for line in transcript:
        direction, _, text = line.partition(": ")
        if direction.endswith("C"):
            if text.upper().startswith("AUTH "):
                assert re.fullmatch(r"AUTH [A-Z0-9-]+ \*\*\*", text), line
                in_auth = seen = True
            elif in_auth:
                assert text == "***", line
        elif direction.endswith("S") and not text.startswith("334"):
            in_auth = False
    assert seen, "no AUTH in the transcript"


# ------------------------------------------------------------------- TLS front


@dataclass
class TlsFront:
    """An implicit-TLS listener in front of the bed's smtps port.

    It terminates TLS with ``server_context`` and opens its own TLS connection to
    Postfix; bytes pass unchanged, except that the ``AUTH`` line of EHLO replies is
    rewritten to ``advertise`` (when given). Postfix and Dovecot do the real work:
    Postfix accepts any mechanism Dovecot knows, advertised or not.
    """

    bed: RunningBed
    server_context: ssl.SSLContext
    advertise: str | None = None
    port: int = 0
    upstream_connections: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    async def start(self) -> TlsFront:
        self._server = await asyncio.start_server(
            self._on_client, host="127.0.0.1", port=0, ssl=self.server_context
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2)
        await self._server.wait_closed()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.bed.host,
                self.bed.smtps_port,
                ssl=self.bed.ssl_context(),
                server_hostname=self.bed.tls_hostname,
            )
            self.upstream_connections += 1
            self._writers.append(up_writer)
            await asyncio.gather(
                self._downstream(up_reader, writer), self._upstream(reader, up_writer)
            )
        except (OSError, asyncio.CancelledError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _downstream(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while line := await source.readline():
                if self.advertise is not None and re.match(rb"250[- ]AUTH ", line):
                    line = line[:4] + b"AUTH " + self.advertise.encode() + b"\r\n"
                sink.write(line)
                await sink.drain()
        finally:
            sink.close()

    async def _upstream(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        finally:
            sink.close()


def front_context(chain_pem: Path) -> ssl.SSLContext:
    """A server context from a key-and-chain PEM (key first, as Postfix reads it)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(chain_pem))
    return context
