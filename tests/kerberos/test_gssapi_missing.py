"""Without the Python package gssapi, a Kerberos identity fails clearly and sends nothing.

Runs in the fast suite: the relay only has to advertise GSSAPI, since the service
needs Kerberos before it sends AUTH.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.integrated import ServiceIdentity
from smtp_profile.mail.plan import Integrated
from smtp_profile.mail.sender import run_test
from tests.mail.helpers import assert_failed, client_lines, make_plan, no_dns
from tests.support.smtpd import SERVER_NAME, RecordingHandler


class _GssapiAdvertised(SMTP):
    attempts = 0

    async def auth_GSSAPI(self, _: Any, args: list[str]) -> AuthResult:
        type(self).attempts += 1
        return AuthResult(success=False, handled=False)


@pytest.fixture
async def gssapi_port() -> AsyncIterator[int]:
    def factory() -> SMTP:
        return _GssapiAdvertised(
            RecordingHandler(),
            hostname=SERVER_NAME,
            authenticator=lambda *args: AuthResult(success=False, handled=False),
            auth_require_tls=False,
            auth_exclude_mechanism=["PLAIN", "LOGIN"],
        )

    server = await asyncio.get_running_loop().create_server(factory, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    server.close()
    await server.wait_closed()


async def test_kerberos_without_the_gssapi_package(
    gssapi_port: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "gssapi", None)  # "import gssapi" raises ImportError
    _GssapiAdvertised.attempts = 0
    identity = ServiceIdentity(
        kerberos_principal="smtp-profile@EXAMPLE.TEST", kerberos_keytab=tmp_path / "keytab"
    )
    outcome = await run_test(
        make_plan(gssapi_port, login=Integrated(identity=identity)), resolver=no_dns
    )

    assert_failed(outcome, Stage.AUTH, Failure.KERBEROS_UNAVAILABLE)
    assert "gssapi" in (outcome.hint or "")
    assert not any(line.startswith("AUTH") for line in client_lines(outcome.transcript))
    assert _GssapiAdvertised.attempts == 0
