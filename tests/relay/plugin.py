"""pytest plugin: a session-wide Postfix + Dovecot relay bed.

Load it with ``-p tests.relay.plugin`` or ``pytest_plugins = [...]`` in the top-level
``tests/conftest.py`` (see README.md). Tests that use it are marked ``relay``.
If the bed cannot start, the fixture raises: tests error out, they are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .bed import RelayBed, RunningBed


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker too, so the plugin also works outside this project."""
    config.addinivalue_line("markers", "relay: needs the Postfix + Dovecot test bed")


@pytest.fixture(scope="session")
def relay_bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBed]:
    """A running bed shared by the whole session; stopped when the session ends."""
    bed = RelayBed()
    running = bed.start(tmp_path_factory.mktemp("relay-bed"))
    try:
        yield running
    finally:
        bed.stop()


@pytest.fixture
def clean_relay_bed(relay_bed: RunningBed) -> RunningBed:
    """The session's bed with its Maildir emptied before the test."""
    relay_bed.clear_messages()
    return relay_bed
