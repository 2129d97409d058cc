"""Reading a referenced secret when it is used: an environment variable, a file or a
command's output, each only as far as the operator's :class:`SecretPolicy` allows.

Every problem is a :class:`SecretProblem` that names the field and the setting; the
secret itself never appears in one.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import stat
import subprocess
import time
from collections.abc import Mapping

from smtp_profile.mail.diagnosis import Failure
from smtp_profile.secret import Secret
from smtp_profile.secret_policy import SecretPolicy, SecretProblem, check_reference
from smtp_profile.secretref import ProviderKind, SecretRef

_PROC_FD = "/proc/self/fd"


def resolve(
    field: str,
    ref: SecretRef,
    policy: SecretPolicy,
    *,
    environ: Mapping[str, str] | None = None,
) -> Secret:
    """The secret ``ref`` points to, read now; raises :class:`SecretProblem`."""
    check_reference(field, ref, policy)
    kind, target = ref.kind, ref.target
    if kind is ProviderKind.ENVIRONMENT:
        value = (os.environ if environ is None else environ).get(target, "")
        if not value:
            raise _unresolvable(
                field,
                Failure.SECRET_ENV_UNSET,
                f"the environment variable {target!r} is not set in the service's environment",
            )
        return Secret(value)
    if kind is ProviderKind.FILE:
        return Secret(
            _decode(
                field,
                read_allowed_file(field, target, policy),
                Failure.SECRET_FILE_UNREADABLE,
                f"the file {target}",
            )
        )
    return Secret(
        _decode(
            field,
            run_command(field, target, policy),
            Failure.SECRET_COMMAND_FAILED,
            f"the command {target!r}",
        )
    )


def _unresolvable(field: str, failure: Failure, what: str) -> SecretProblem:
    return SecretProblem(field, failure, "unresolvable", f"{field}: {what}.")


def _decode(field: str, data: bytes, failure: Failure, source: str) -> str:
    try:
        text = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _unresolvable(field, failure, f"{source} does not hold UTF-8 text") from None
    if not text:
        raise _unresolvable(field, failure, f"{source} is empty")
    return text


def _inside(path: str, directories: list[str]) -> bool:
    return any(
        path != directory and os.path.commonpath([path, directory]) == directory
        for directory in directories
    )


def read_allowed_file(field: str, path: str, policy: SecretPolicy) -> bytes:
    """The file's bytes, when its real path (links and '..' resolved) is inside an
    allowed directory, both before opening and for the descriptor actually opened."""
    directories = [os.path.realpath(directory) for directory in policy.file_dirs]
    real = os.path.realpath(path)
    refused = SecretProblem(
        field,
        Failure.SECRET_FILE_NOT_ALLOWED,
        "reference",
        f"{field}: the file {path} is not inside a directory of SMTP_PROFILE_SECRET_FILE_DIRS "
        "(symbolic links and '..' are resolved first).",
    )
    if not _inside(real, directories):
        raise refused
    unreadable = Failure.SECRET_FILE_UNREADABLE
    try:
        descriptor = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _unresolvable(
            field, unreadable, f"the file {path} cannot be opened ({exc.strerror})"
        ) from None
    try:
        status = os.fstat(descriptor)
        if os.path.isdir(_PROC_FD) and not _inside(
            os.path.realpath(f"{_PROC_FD}/{descriptor}"), directories
        ):
            raise refused  # a directory on the way was swapped for a link meanwhile
        if not stat.S_ISREG(status.st_mode):
            raise _unresolvable(field, unreadable, f"{path} is not a regular file")
        data = os.read(descriptor, policy.max_bytes + 1)
    except OSError as exc:
        raise _unresolvable(
            field, unreadable, f"the file {path} cannot be read ({exc.strerror})"
        ) from None
    finally:
        os.close(descriptor)
    if len(data) > policy.max_bytes:
        raise _unresolvable(
            field,
            unreadable,
            f"the file {path} is larger than {policy.max_bytes} bytes "
            "(SMTP_PROFILE_SECRET_MAX_BYTES)",
        )
    return data


def run_command(field: str, name: str, policy: SecretPolicy) -> bytes:
    """Standard output of the operator's command ``name`` (its argv comes from the
    settings, never from a request), within the timeout and the size limit."""
    argv = list(policy.commands[name])
    failed = Failure.SECRET_COMMAND_FAILED
    try:
        process = subprocess.Popen(  # noqa: S603 - argv is the operator's, not a request's
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise _unresolvable(
            field, failed, f"the command {name!r} cannot be started ({exc.strerror})"
        ) from None
    try:
        output, problem = _read_output(process, policy)
    finally:
        _stop(process)
    if problem is not None:
        raise _unresolvable(field, failed, f"the command {name!r} {problem}")
    if process.returncode != 0:
        raise _unresolvable(
            field, failed, f"the command {name!r} exited with status {process.returncode}"
        )
    return output


def _read_output(
    process: subprocess.Popen[bytes], policy: SecretPolicy
) -> tuple[bytes, str | None]:
    assert process.stdout is not None
    deadline = time.monotonic() + policy.command_timeout
    chunks: list[bytes] = []
    size = 0
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"", (
                    f"took longer than {policy.command_timeout:g} s "
                    "(SMTP_PROFILE_SECRET_COMMAND_TIMEOUT)"
                )
            if not selector.select(remaining):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            size += len(chunk)
            if size > policy.max_bytes:
                return b"", (
                    f"printed more than {policy.max_bytes} bytes (SMTP_PROFILE_SECRET_MAX_BYTES)"
                )
            chunks.append(chunk)
    try:
        process.wait(timeout=max(deadline - time.monotonic(), 0.01))
    except subprocess.TimeoutExpired:
        return (
            b"",
            f"did not exit within {policy.command_timeout:g} s "
            "(SMTP_PROFILE_SECRET_COMMAND_TIMEOUT)",
        )
    return b"".join(chunks), None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Kill what is still running of the command's process group, and reap it."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
