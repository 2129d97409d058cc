"""The type 1 identity as configuration: settings, what is missing, which mechanism. Pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtp_profile.errors import ConfigurationError
from smtp_profile.mail.diagnosis import Failure, hint_for
from smtp_profile.mail.integrated import (
    Mechanism,
    ServiceIdentity,
    choose_mechanism,
    classify_kerberos_error,
    memory_ccache,
)
from smtp_profile.settings import load_settings

KEYTAB = Path("/etc/smtp-profile/krb5.keytab")
PASSWORD_FILE = Path("/etc/smtp-profile/ntlm-password")
KERBEROS = {"kerberos_principal": "smtp-profile@EXAMPLE.COM", "kerberos_keytab": KEYTAB}
NTLM = {"ntlm_username": "CORP\\svc-mail", "ntlm_password_file": PASSWORD_FILE}


def test_settings_build_the_identity(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "KERBEROS_PRINCIPAL": "smtp-profile@EXAMPLE.COM",
        "KERBEROS_KEYTAB": str(KEYTAB),
        "KERBEROS_SERVICE": "SMTP",
        "NTLM_USERNAME": "CORP\\svc-mail",
        "NTLM_PASSWORD_FILE": str(PASSWORD_FILE),
        "INTEGRATED_RELAY_HOSTS": "Relay.Example.COM., [::1] ,",
    }.items():
        monkeypatch.setenv(f"SMTP_PROFILE_{name}", value)
    identity = ServiceIdentity.from_settings(load_settings(data_dir=tmp_path))
    assert identity == ServiceIdentity(
        kerberos_principal="smtp-profile@EXAMPLE.COM",
        kerberos_keytab=KEYTAB,
        kerberos_service="SMTP",
        ntlm_username="CORP\\svc-mail",
        ntlm_password_file=PASSWORD_FILE,
        relay_hosts=frozenset({"relay.example.com", "::1"}),
    )


def test_by_default_no_identity_is_configured(tmp_path: Path) -> None:
    identity = ServiceIdentity.from_settings(load_settings(data_dir=tmp_path))
    assert identity == ServiceIdentity()
    assert identity.problem() is Failure.INTEGRATED_NOT_CONFIGURED


def test_empty_variables_mean_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("KERBEROS_PRINCIPAL", "KERBEROS_KEYTAB", "NTLM_USERNAME", "NTLM_PASSWORD_FILE"):
        monkeypatch.setenv(f"SMTP_PROFILE_{name}", "")
    assert ServiceIdentity.from_settings(load_settings(data_dir=tmp_path)) == ServiceIdentity()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("KERBEROS_PRINCIPAL", "two words@EXAMPLE.COM"),
        ("KERBEROS_SERVICE", "smtp/relay"),
        ("NTLM_USERNAME", "CORP\\svc\nmail"),
        ("KERBEROS_CCACHE", "FILE:/tmp/a b"),
    ],
)
def test_a_bad_setting_stops_the_service_and_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str
) -> None:
    monkeypatch.setenv(f"SMTP_PROFILE_{name}", value)
    with pytest.raises(ConfigurationError, match=f"SMTP_PROFILE_{name}"):
        load_settings(data_dir=tmp_path)


@pytest.mark.parametrize(
    ("values", "failure", "missing"),
    [
        pytest.param({}, Failure.INTEGRATED_NOT_CONFIGURED, None, id="nothing"),
        pytest.param(
            {"kerberos_keytab": KEYTAB},
            Failure.KERBEROS_PRINCIPAL_NOT_SET,
            "SMTP_PROFILE_KERBEROS_PRINCIPAL",
            id="keytab-without-principal",
        ),
        pytest.param(
            {"kerberos_principal": "smtp-profile@EXAMPLE.COM"},
            Failure.KERBEROS_KEYTAB_NOT_SET,
            "SMTP_PROFILE_KERBEROS_KEYTAB",
            id="principal-without-keytab",
        ),
        pytest.param(
            {"ntlm_username": "CORP\\svc-mail"},
            Failure.NTLM_PASSWORD_FILE_NOT_SET,
            "SMTP_PROFILE_NTLM_PASSWORD_FILE",
            id="user-without-password-file",
        ),
        pytest.param(
            {"ntlm_password_file": PASSWORD_FILE},
            Failure.NTLM_USERNAME_NOT_SET,
            "SMTP_PROFILE_NTLM_USERNAME",
            id="password-file-without-user",
        ),
        pytest.param(
            {**KERBEROS, "ntlm_username": "CORP\\svc-mail"},
            Failure.NTLM_PASSWORD_FILE_NOT_SET,
            "SMTP_PROFILE_NTLM_PASSWORD_FILE",
            id="kerberos-and-half-ntlm",
        ),
    ],
)
def test_what_is_missing_is_named_by_its_setting(
    values: dict[str, object], failure: Failure, missing: str | None
) -> None:
    identity = ServiceIdentity(**values)  # type: ignore[arg-type]
    assert identity.problem() is failure
    fix = hint_for(failure).fix
    if missing is not None:
        assert fix.startswith(f"Set {missing} ")


def test_the_unconfigured_hint_names_every_setting_to_set() -> None:
    fix = hint_for(Failure.INTEGRATED_NOT_CONFIGURED).fix
    assert (
        "SMTP_PROFILE_KERBEROS_KEYTAB and SMTP_PROFILE_KERBEROS_PRINCIPAL (Kerberos), or "
        "SMTP_PROFILE_NTLM_USERNAME and SMTP_PROFILE_NTLM_PASSWORD_FILE (NTLM)"
    ) in fix


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(KERBEROS, id="keytab"),
        pytest.param({"kerberos_ccache": "FILE:/run/smtp-profile/krb5cc"}, id="ccache"),
        pytest.param(NTLM, id="ntlm"),
        pytest.param({**KERBEROS, **NTLM}, id="both"),
    ],
)
def test_complete_identities_have_no_problem(values: dict[str, object]) -> None:
    assert ServiceIdentity(**values).problem() is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "offered", "expected"),
    [
        pytest.param({**KERBEROS, **NTLM}, ["NTLM", "GSSAPI"], Mechanism.GSSAPI, id="prefers"),
        pytest.param({**KERBEROS, **NTLM}, ["ntlm", "login"], Mechanism.NTLM, id="else-ntlm"),
        pytest.param(KERBEROS, ["gssapi"], Mechanism.GSSAPI, id="case"),
        pytest.param(KERBEROS, ["NTLM", "PLAIN"], None, id="kerberos-only"),
        pytest.param(NTLM, ["GSSAPI", "PLAIN"], None, id="ntlm-only"),
        pytest.param({**KERBEROS, **NTLM}, ["PLAIN", "LOGIN"], None, id="neither"),
    ],
)
def test_the_mechanism_is_kerberos_first_then_ntlm(
    values: dict[str, object], offered: list[str], expected: Mechanism | None
) -> None:
    identity = ServiceIdentity(**values)  # type: ignore[arg-type]
    assert choose_mechanism(identity, offered) is expected


@pytest.mark.parametrize(
    ("hosts", "host", "allowed"),
    [
        (frozenset(), "anything.example", True),
        (frozenset({"relay.example.com"}), "Relay.Example.COM.", True),
        (frozenset({"relay.example.com"}), "other.example.com", False),
        (frozenset({"::1"}), "[::1]", True),
    ],
)
def test_relay_hosts(hosts: frozenset[str], host: str, allowed: bool) -> None:
    assert ServiceIdentity(**NTLM, relay_hosts=hosts).allows(host) is allowed  # type: ignore[arg-type]


def test_each_keytab_identity_has_its_own_memory_cache() -> None:
    one = memory_ccache(ServiceIdentity(**KERBEROS))  # type: ignore[arg-type]
    other = memory_ccache(ServiceIdentity(**{**KERBEROS, "kerberos_keytab": Path("/k2")}))  # type: ignore[arg-type]
    assert one.startswith("MEMORY:smtp-profile-") and one != other


def _krb5(code: int) -> int:
    return code & 0xFFFFFFFF


@pytest.mark.parametrize(
    ("major", "minor", "failure"),
    [
        (0xD0000, _krb5(-1765328228), Failure.KERBEROS_KDC_UNREACHABLE),  # cannot contact KDC
        (0x70000, _krb5(-1765328230), Failure.KERBEROS_KDC_UNREACHABLE),  # no KDC for realm
        (0xD0000, _krb5(-1765328377), Failure.KERBEROS_UNKNOWN_RELAY),  # server not found
        (0xD0000, _krb5(-1765328378), Failure.KERBEROS_NO_TICKET),  # client not found
        (0x70000, _krb5(-1765328353), Failure.KERBEROS_NO_TICKET),  # stale key
        (0x70000, _krb5(-1765328189), Failure.KERBEROS_NO_TICKET),  # no ccache
        (0x70000, 12345, Failure.KERBEROS_NO_TICKET),  # GSS_S_NO_CRED, any reason
        (0xD0000, _krb5(-1765328347), Failure.KERBEROS_FAILED),  # clock skew
    ],
)
def test_kerberos_errors_are_classified(major: int, minor: int, failure: Failure) -> None:
    assert classify_kerberos_error(major, minor) is failure
