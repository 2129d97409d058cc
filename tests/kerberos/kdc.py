"""A throwaway MIT KDC on the loopback, private to one test session.

``krb5kdc -n`` runs in the foreground as our child, with its own ``kdc.conf`` and a
database made by ``kdb5_util create`` in a temp directory; principals and keytabs come
from ``kadmin.local``. Nothing system-wide is read or written: every command gets
``KRB5_CONFIG`` and ``KRB5_KDC_PROFILE`` pointing into the directory (the system's
``/etc/krb5.conf`` and ``/etc/krb5kdc`` are never used). The KDC is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

REALM = "EXAMPLE.TEST"
LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0


class KdcError(RuntimeError):
    """The KDC could not be set up or started (the message has the tail of its log)."""


def _program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise KdcError(
            f"{name} not found: run tests/kerberos/install-debian-packages.sh (as root) first"
        )
    return found


def _free_port() -> int:
    """A port that is free on the loopback for both TCP and UDP (the KDC listens on both)."""
    for _ in range(50):
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        ):
            tcp.bind((LOOPBACK, 0))
            port = int(tcp.getsockname()[1])
            try:
                udp.bind((LOOPBACK, port))
            except OSError:
                continue
            return port
    raise KdcError("no port free for both TCP and UDP on the loopback")


def client_config(kdc_port: int) -> str:
    """A krb5.conf for clients and services of the test realm, on the loopback only.

    No DNS: the KDC is listed, host names are not canonicalised (``smtp@localhost`` is
    ``smtp/localhost@EXAMPLE.TEST``), TCP is preferred (a closed port fails at once).
    """
    return f"""\
[libdefaults]
 default_realm = {REALM}
 dns_lookup_kdc = false
 dns_lookup_realm = false
 dns_canonicalize_hostname = false
 rdns = false
 udp_preference_limit = 1
 default_ccache_name = MEMORY:kerberos-tests
[realms]
 {REALM} = {{
  kdc = {LOOPBACK}:{kdc_port}
 }}
[domain_realm]
 localhost = {REALM}
 .example.test = {REALM}
"""


def _kdc_config(directory: Path, port: int) -> str:
    return f"""\
[kdcdefaults]
 kdc_listen = {LOOPBACK}:{port}
 kdc_tcp_listen = {LOOPBACK}:{port}
[realms]
 {REALM} = {{
  database_name = {directory / "principal"}
  key_stash_file = {directory / "stash"}
  acl_file = {directory / "kadm5.acl"}
  max_life = 10h
  supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
 }}
[logging]
 kdc = FILE:{directory / "kdc.log"}
 admin_server = FILE:{directory / "kadmin.log"}
 default = FILE:{directory / "krb5.log"}
"""


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"--- {path}: {exc}"
    return f"--- last lines of {path}:\n" + "\n".join(text.splitlines()[-lines:])


@dataclass
class Kdc:
    """One KDC: ``running = Kdc(directory).start()`` ... ``running.stop()``."""

    directory: Path
    port: int = 0
    krb5_conf: Path = field(init=False)
    kdc_conf: Path = field(init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.directory = self.directory.resolve()
        self.krb5_conf = self.directory / "krb5.conf"
        self.kdc_conf = self.directory / "kdc.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment for the KDC's tools: this realm's files, nothing of the system's."""
        return {
            **os.environ,
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "KRB5CCNAME": "MEMORY:kdc-tools",
        }

    @property
    def log(self) -> Path:
        return self.directory / "kdc.log"

    def start(self) -> Kdc:
        """Create the realm's database and start ``krb5kdc -n``; raise :class:`KdcError`."""
        krb5kdc, kdb5_util = _program("krb5kdc"), _program("kdb5_util")
        _program("kadmin.local")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = self.port or _free_port()
        self.krb5_conf.write_text(client_config(self.port))
        self.kdc_conf.write_text(_kdc_config(self.directory, self.port))
        (self.directory / "kadm5.acl").write_text("")
        self._run(kdb5_util, "create", "-s", "-r", REALM, "-P", secrets.token_urlsafe(16))
        with (self.directory / "krb5kdc.out").open("wb") as output:
            self._process = subprocess.Popen(
                [krb5kdc, "-n", "-r", REALM, "-P", str(self.directory / "krb5kdc.pid")],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_ready(time.monotonic() + STARTUP_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        while True:
            if self._process.poll() is not None:
                raise KdcError(
                    f"krb5kdc exited with {self._process.returncode}\n"
                    f"{_tail(self.directory / 'krb5kdc.out')}\n{_tail(self.log)}"
                )
            with contextlib.suppress(OSError):
                socket.create_connection((LOOPBACK, self.port), timeout=0.5).close()
                return
            if time.monotonic() >= deadline:
                raise KdcError(f"krb5kdc did not listen on port {self.port}\n{_tail(self.log)}")
            time.sleep(0.02)

    def _run(self, *command: str) -> str:
        result = subprocess.run(
            command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT,
            check=False,
        )
        if result.returncode != 0:
            raise KdcError(
                f"{' '.join(command[:2])} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        return result.stdout

    def kadmin(self, query: str) -> str:
        """Run one ``kadmin.local`` query against this realm's database."""
        return self._run(_program("kadmin.local"), "-r", REALM, "-q", query)

    def add_principal(self, name: str, keytab: Path | None = None) -> str:
        """Create ``name@REALM`` with a random key; export it to ``keytab`` when given."""
        principal = name if "@" in name else f"{name}@{REALM}"
        self.kadmin(f"addprinc -randkey {principal}")
        if keytab is not None:
            self.export_keytab(principal, keytab)
        return principal

    def export_keytab(self, principal: str, keytab: Path) -> Path:
        """Write the principal's current keys to ``keytab`` (the keys stay the same)."""
        self.kadmin(f"ktadd -k {keytab} -norandkey {principal}")
        keytab.chmod(0o600)
        return keytab

    def change_key(self, principal: str) -> None:
        """Give the principal a new random key: keytabs exported before become stale."""
        self.kadmin(f"cpw -randkey {principal}")

    def stop(self) -> None:
        """Stop krb5kdc by the pid of our child process."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)
