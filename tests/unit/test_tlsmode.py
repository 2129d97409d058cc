"""Which TLS a profile asks for (spec §4)."""

from __future__ import annotations

import pytest

from smtp_profile.mail.tlsmode import TlsMode, choose_tls_mode, describe_tls_mode

DEFAULT_IMPLICIT = frozenset({465})


@pytest.mark.parametrize(
    ("use_ssl", "port", "implicit_ports", "expected"),
    [
        pytest.param(True, 465, DEFAULT_IMPLICIT, TlsMode.IMPLICIT, id="465-implicit"),
        pytest.param(True, 587, DEFAULT_IMPLICIT, TlsMode.STARTTLS, id="587-starttls"),
        pytest.param(True, 25, DEFAULT_IMPLICIT, TlsMode.STARTTLS, id="25-starttls"),
        pytest.param(True, 2465, DEFAULT_IMPLICIT, TlsMode.STARTTLS, id="high-port-starttls"),
        pytest.param(False, 465, DEFAULT_IMPLICIT, TlsMode.NONE, id="465-off-is-none"),
        pytest.param(False, 587, DEFAULT_IMPLICIT, TlsMode.NONE, id="587-off-is-none"),
        pytest.param(True, 10465, {465, 10465}, TlsMode.IMPLICIT, id="configured-high-port"),
        pytest.param(True, 465, {10465}, TlsMode.STARTTLS, id="465-not-configured"),
        pytest.param(True, 465, (), TlsMode.STARTTLS, id="no-implicit-ports"),
        pytest.param(False, 10465, {10465}, TlsMode.NONE, id="configured-but-off"),
        pytest.param(True, 465, [465, 465], TlsMode.IMPLICIT, id="list-collection"),
    ],
)
def test_choose_tls_mode(
    use_ssl: bool, port: int, implicit_ports: object, expected: TlsMode
) -> None:
    mode = choose_tls_mode(use_ssl=use_ssl, port=port, implicit_tls_ports=implicit_ports)  # type: ignore[arg-type]
    assert mode is expected


@pytest.mark.parametrize("mode", list(TlsMode))
def test_every_mode_has_a_description(mode: TlsMode) -> None:
    assert describe_tls_mode(mode).strip()


def test_descriptions_are_distinct() -> None:
    assert len({describe_tls_mode(mode) for mode in TlsMode}) == len(TlsMode)
