"""Secret references: each provider reads what the operator allows and nothing else."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from smtp_profile.errors import entry_for
from smtp_profile.mail.diagnosis import Failure
from smtp_profile.secret_policy import SecretPolicy, SecretProblem
from smtp_profile.secret_sources import resolve
from smtp_profile.secretref import SecretRef

PY = sys.executable


def env(name: str) -> SecretRef:
    return SecretRef("environment", (("Name", name),))


def file(path: str | Path) -> SecretRef:
    return SecretRef("file", (("Path", str(path)),))


def command(name: str) -> SecretRef:
    return SecretRef("command", (("Name", name),))


def refused(ref: SecretRef, policy: SecretPolicy, **kwargs: object) -> SecretProblem:
    with pytest.raises(SecretProblem) as caught:
        resolve("RelayPassword", ref, policy, **kwargs)  # type: ignore[arg-type]
    problem = caught.value
    assert "RelayPassword" in problem.message
    assert entry_for(problem.invalid_field()).status == 400
    return problem


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "secrets"
    directory.mkdir()
    (directory / "relay-password").write_text("from-a-file\n")
    (tmp_path / "outside").write_text("not-for-you")
    return directory


# --------------------------------------------------------------------- environment


@pytest.mark.parametrize("allow", ["SMTP_RELAY_PASSWORD", "SMTP_RELAY_*"])
def test_environment_variable_resolves(allow: str) -> None:
    policy = SecretPolicy(env_allow=frozenset({allow}))
    secret = resolve(
        "RelayPassword", env("SMTP_RELAY_PASSWORD"), policy, environ={"SMTP_RELAY_PASSWORD": "pw"}
    )
    assert secret.reveal() == "pw"


@pytest.mark.parametrize(
    "name",
    ["HOME", "SMTP_RELAYX", "SMTP_PROFILE_DATABASE_URL", "smtp_relay_password"],
)
def test_environment_variable_not_listed_is_refused(name: str) -> None:
    policy = SecretPolicy(env_allow=frozenset({"SMTP_RELAY_*", "SMTP_RELAYX_"}))
    problem = refused(env(name), policy, environ={name: "x"})
    assert problem.failure is Failure.SECRET_ENV_NOT_ALLOWED and problem.rule == "reference"
    assert "SMTP_PROFILE_SECRET_ENV_ALLOW" in problem.message


def test_own_settings_are_never_secrets_even_with_a_wide_prefix() -> None:
    policy = SecretPolicy(env_allow=frozenset({"SMTP_*"}))
    problem = refused(env("SMTP_PROFILE_SECRET_KEY_FILE"), policy, environ={})
    assert problem.failure is Failure.SECRET_ENV_NOT_ALLOWED


def test_unset_variable_is_unresolvable() -> None:
    policy = SecretPolicy(env_allow=frozenset({"SMTP_RELAY_*"}))
    problem = refused(env("SMTP_RELAY_PASSWORD"), policy, environ={"SMTP_RELAY_PASSWORD": ""})
    assert (problem.failure, problem.rule) == (Failure.SECRET_ENV_UNSET, "unresolvable")


@pytest.mark.parametrize(
    ("ref", "setting"),
    [
        (env("X"), "SMTP_PROFILE_SECRET_ENV_ALLOW"),
        (file("/run/secrets/x"), "SMTP_PROFILE_SECRET_FILE_DIRS"),
        (command("vault"), "SMTP_PROFILE_SECRET_COMMANDS"),
    ],
)
def test_a_provider_the_operator_did_not_enable(ref: SecretRef, setting: str) -> None:
    problem = refused(ref, SecretPolicy())
    assert (problem.failure, problem.rule) == (Failure.SECRET_PROVIDER_DISABLED, "provider")
    assert setting in problem.message


def test_unknown_provider() -> None:
    problem = refused(SecretRef("vault", (("Path", "x"),)), SecretPolicy())
    assert (problem.failure, problem.rule) == (Failure.SECRET_PROVIDER_UNKNOWN, "provider")


# --------------------------------------------------------------------------- files


def test_file_in_an_allowed_directory_resolves(secrets_dir: Path) -> None:
    policy = SecretPolicy(file_dirs=(str(secrets_dir),))
    assert resolve("RelayPassword", file(secrets_dir / "relay-password"), policy).reveal() == (
        "from-a-file"
    )


def test_allowed_directory_given_through_a_link(secrets_dir: Path, tmp_path: Path) -> None:
    link = tmp_path / "mounted"
    link.symlink_to(secrets_dir)
    policy = SecretPolicy(file_dirs=(str(link),))
    assert resolve("RelayPassword", file(link / "relay-password"), policy).reveal() == "from-a-file"


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("{tmp}/outside", id="outside"),
        pytest.param("{dir}/../outside", id="dot-dot"),
        pytest.param("{dir}/link-out", id="symlink-out"),
        pytest.param("{dir}", id="the-directory-itself"),
        pytest.param("/etc/passwd", id="system-file"),
        pytest.param("relay-password", id="relative"),
        pytest.param("{dir}-evil/x", id="name-prefix"),
    ],
)
def test_file_outside_the_directories_is_refused(
    secrets_dir: Path, tmp_path: Path, path: str
) -> None:
    (secrets_dir / "link-out").symlink_to(tmp_path / "outside")
    (tmp_path / "secrets-evil").mkdir()
    (tmp_path / "secrets-evil" / "x").write_text("x")
    policy = SecretPolicy(file_dirs=(str(secrets_dir),))
    target = path.format(tmp=tmp_path, dir=secrets_dir)
    problem = refused(file(target), policy)
    assert (problem.failure, problem.rule) == (Failure.SECRET_FILE_NOT_ALLOWED, "reference")
    assert "not-for-you" not in problem.message


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "empty", "too-large", "binary"])
def test_unreadable_file(secrets_dir: Path, kind: str) -> None:
    target = secrets_dir / kind
    if kind == "directory":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)  # opening must not wait for a writer
    elif kind == "empty":
        target.write_text("\n")
    elif kind == "too-large":
        target.write_text("x" * 100)
    elif kind == "binary":
        target.write_bytes(b"\xff\xfe")
    policy = SecretPolicy(file_dirs=(str(secrets_dir),), max_bytes=64)
    problem = refused(file(target), policy)
    assert (problem.failure, problem.rule) == (Failure.SECRET_FILE_UNREADABLE, "unresolvable")


# ------------------------------------------------------------------------ commands


def commands(**argv: list[str]) -> dict[str, tuple[str, ...]]:
    return {name.replace("_", "-"): tuple(value) for name, value in argv.items()}


def test_command_output_resolves() -> None:
    policy = SecretPolicy(commands=commands(vault=[PY, "-c", "print('from-a-command')"]))
    assert resolve("RelayPassword", command("vault"), policy).reveal() == "from-a-command"


def test_a_request_picks_a_name_never_an_argv() -> None:
    policy = SecretPolicy(commands=commands(vault=[PY, "-c", "print('ok')"]))
    ref = SecretRef("command", (("Name", "/bin/cat /etc/shadow"),))
    problem = refused(ref, policy)
    assert (problem.failure, problem.rule) == (Failure.SECRET_COMMAND_UNKNOWN, "reference")


@pytest.mark.parametrize(
    ("script", "wanted"),
    [
        pytest.param("import sys; sys.exit(3)", "status 3", id="exit-status"),
        pytest.param("import time; time.sleep(5)", "longer than", id="timeout"),
        pytest.param("print('x' * 1000)", "more than 64 bytes", id="too-much-output"),
        pytest.param("pass", "is empty", id="no-output"),
    ],
)
def test_failing_command(script: str, wanted: str) -> None:
    policy = SecretPolicy(
        commands=commands(vault=[PY, "-c", script]), command_timeout=0.5, max_bytes=64
    )
    problem = refused(command("vault"), policy)
    assert (problem.failure, problem.rule) == (Failure.SECRET_COMMAND_FAILED, "unresolvable")
    assert wanted in problem.message


def test_missing_program() -> None:
    policy = SecretPolicy(commands=commands(vault=["/nonexistent/vault-cli"]))
    assert refused(command("vault"), policy).failure is Failure.SECRET_COMMAND_FAILED
