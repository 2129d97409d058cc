"""A real-MTA test bed: Postfix (SMTP) with Dovecot (SASL), private to one test session.

Nothing of a system mail server is used: no ``/etc/postfix/main.cf``, no ``/etc/dovecot``,
no system queue, no port 25. Only the package metadata in ``/etc/postfix``
(``postfix-files``, ``dynamicmaps.cf``: Postfix's ``meta_directory``) is read.

Files live in two private directories:

* ``workdir`` (given to :meth:`RelayBed.start`): the Postfix ``config_directory``, the
  Dovecot config file, the TLS material and the logs. Only root reads them (Postfix
  and Dovecot read configuration and keys before dropping privileges), so the
  directory may sit under pytest's 0700 temp tree.
* a *runtime* directory made with :func:`tempfile.mkdtemp` in a world-searchable
  temp dir (``/tmp``), linked as ``workdir/runtime``: the Postfix ``queue_directory``
  and ``data_directory``, the Maildir, Dovecot's ``base_dir`` (auth socket) and
  passwd-file. The unprivileged users (``postfix``, ``nobody``, ``dovecot``) must reach
  these, which they could not do under pytest's ``/tmp/pytest-of-root`` (0700, and
  every new pytest session resets its mode). :meth:`RelayBed.stop` deletes it.

Postfix must run as root (master(8) binds the ports and switches users). Processes
are stopped by their pid: the Dovecot master is our child (``dovecot -F``), the
Postfix master's pid is read from its pid file and its process group is awaited.
"""

from __future__ import annotations

import argparse
import contextlib
import email.policy
import os
import pwd
import secrets
import selectors
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import trustme

LOOPBACK = "127.0.0.1"
TLS_HOSTNAME = "localhost"
DOMAIN = "example.test"
MYHOSTNAME = "relay.example.test"
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
# sockaddr_un.sun_path is 108 bytes on Linux, including the trailing NUL.
_MAX_UNIX_SOCKET_PATH = 107


class RelayBedError(RuntimeError):
    """The bed could not be started (the message includes the tail of the logs)."""


@dataclass(frozen=True)
class RelayUser:
    """An account known to Dovecot's passwd-file (SASL login and password)."""

    login: str
    password: str


DEFAULT_USERS: tuple[RelayUser, ...] = (
    RelayUser("alice", "alice-Secr3t!"),
    RelayUser("CORP\\bob", "bob-Pa55word"),
    RelayUser("carol@example.test", "carol-Pa55word"),
    # A non-ASCII password (UTF-8 on the wire). smtplib cannot send it; aiosmtplib can.
    RelayUser("dave", "d\u00e4ve-p\u00e4ss"),
)


@dataclass(frozen=True)
class RunningBed:
    """Where a started bed listens, who may log in, and where its mail and logs land.

    Ports (all on ``host``, 127.0.0.1):

    * ``plain_port``: no TLS, no AUTH; accepts mail for ``example.test`` only.
    * ``submission_port``: STARTTLS; AUTH PLAIN LOGIN after TLS only; AUTH required.
    * ``smtps_port``: implicit TLS from the first byte; AUTH PLAIN LOGIN required.
    * ``badcert_port``: like submission, but the certificate is from an untrusted CA.
    * ``cram_port``: like submission, but AUTH offers CRAM-MD5 only.
    * ``silent_port``: accepts TCP connections and never sends a greeting.
    """

    host: str
    tls_hostname: str
    domain: str
    plain_port: int
    submission_port: int
    smtps_port: int
    badcert_port: int
    cram_port: int
    silent_port: int
    ca_pem: Path
    untrusted_ca_pem: Path
    users: tuple[RelayUser, ...]
    workdir: Path
    runtime_dir: Path
    maildir: Path
    maillog: Path
    dovecot_log: Path

    def user(self, login: str) -> RelayUser:
        """Return the account with this exact login."""
        for candidate in self.users:
            if candidate.login == login:
                return candidate
        raise KeyError(login)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts only the bed's test CA."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    def messages(self, recipient: str | None = None) -> list[EmailMessage]:
        """Messages delivered so far, oldest first, optionally only those for ``recipient``.

        Postfix's virtual(8) delivers one copy per recipient and stamps it with a
        ``Delivered-To:`` header; ``recipient`` is matched against it (case-insensitive).
        """
        found = [_parse_message(path) for path in _maildir_files(self.maildir)]
        if recipient is None:
            return found
        wanted = recipient.lower()
        return [msg for msg in found if str(msg.get("Delivered-To", "")).lower() == wanted]

    def wait_for_messages(
        self,
        recipient: str | None = None,
        *,
        count: int = 1,
        timeout: float = 15.0,
        match: Callable[[EmailMessage], bool] | None = None,
    ) -> list[EmailMessage]:
        """Poll the Maildir until at least ``count`` matching messages arrived.

        Returns the matching messages; raises :class:`TimeoutError` (with the tail of
        the mail log) when the deadline passes first.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [m for m in self.messages(recipient) if match is None or match(m)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{len(found)}/{count} message(s) for {recipient or 'anyone'} "
                    f"after {timeout}s\n{_tail(self.maillog)}"
                )
            time.sleep(0.05)

    def clear_messages(self) -> None:
        """Delete every delivered message (the bed is shared by a whole session)."""
        for path in _maildir_files(self.maildir):
            path.unlink(missing_ok=True)


def _maildir_files(maildir: Path) -> list[Path]:
    """Delivered message files, in delivery order (mtime, then the unique name).

    virtual(8) writes into ``tmp/`` and renames into ``new/``, so a file seen here is
    always complete.
    """
    files = [p for sub in ("new", "cur") for p in (maildir / sub).glob("*") if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime_ns, p.name))


def _parse_message(path: Path) -> EmailMessage:
    with path.open("rb") as handle:
        parsed = BytesParser(policy=email.policy.default).parse(handle)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"--- {path}: {exc}"
    return f"--- last lines of {path}:\n" + "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------- TLS


@dataclass(frozen=True)
class _TlsFiles:
    ca_pem: Path
    untrusted_ca_pem: Path
    server_chain: Path
    badcert_chain: Path


def _write_tls(directory: Path) -> _TlsFiles:
    """Write a trusted CA, a server key+chain from it, and one from an untrusted CA.

    The key+chain files are in the single-file form Postfix's
    ``smtpd_tls_chain_files`` reads (private key first, then the chain).
    """
    directory.mkdir(mode=0o700)
    trusted, untrusted = trustme.CA(), trustme.CA()
    files = _TlsFiles(
        ca_pem=directory / "ca.pem",
        untrusted_ca_pem=directory / "untrusted-ca.pem",
        server_chain=directory / "server-key-chain.pem",
        badcert_chain=directory / "badcert-key-chain.pem",
    )
    trusted.cert_pem.write_to_path(str(files.ca_pem))
    untrusted.cert_pem.write_to_path(str(files.untrusted_ca_pem))
    for ca, path in ((trusted, files.server_chain), (untrusted, files.badcert_chain)):
        cert = ca.issue_cert(TLS_HOSTNAME, LOOPBACK)
        cert.private_key_and_cert_chain_pem.write_to_path(str(path))
        path.chmod(0o600)
    for path in (files.ca_pem, files.untrusted_ca_pem):
        path.chmod(0o644)
    return files


# ------------------------------------------------------------------ ports, paths


@dataclass(frozen=True)
class _Ports:
    plain: int
    submission: int
    smtps: int
    badcert: int
    cram: int


def _free_ports(count: int) -> list[int]:
    """Ask the kernel for ``count`` distinct free ports on the loopback address.

    All sockets are held open until every port is known, so the ports are distinct;
    another process could still grab one before Postfix binds it (unlikely on CI).
    """
    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(count):
            sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((LOOPBACK, 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _searchable_by_others(path: Path) -> bool:
    """Whether every directory from ``/`` down to ``path`` has the ``o+x`` bit."""
    return all(d.stat().st_mode & stat.S_IXOTH for d in (path, *path.parents))


def _make_runtime_dir() -> Path:
    """A fresh directory that the unprivileged Postfix/Dovecot users can traverse."""
    for candidate in (tempfile.gettempdir(), "/tmp", "/var/tmp"):
        parent = Path(candidate).resolve()
        if parent.is_dir() and _searchable_by_others(parent):
            runtime = Path(tempfile.mkdtemp(prefix="relay-bed-", dir=parent))
            runtime.chmod(0o711)  # searchable, not listable
            return runtime
    raise RelayBedError("no temp directory searchable by other users (o+x) for the bed")


@dataclass(frozen=True)
class _Layout:
    """Where each file of the bed lives (see the module docstring for the why)."""

    work: Path
    runtime: Path

    @property
    def log(self) -> Path:
        return self.work / "log"

    @property
    def postfix_conf(self) -> Path:
        return self.work / "postfix"

    @property
    def dovecot_conf(self) -> Path:
        return self.work / "dovecot.conf"

    @property
    def spool(self) -> Path:
        return self.runtime / "spool"

    @property
    def mail(self) -> Path:
        return self.runtime / "mail"

    @property
    def dovecot(self) -> Path:
        return self.runtime / "dovecot"

    @property
    def sasl_socket(self) -> Path:
        return self.dovecot / "run" / "auth-postfix"

    def create(self) -> None:
        for directory in (self.log, self.postfix_conf, self.spool, self.dovecot):
            directory.mkdir(mode=0o755)
        self.mail.mkdir(mode=0o700)
        nobody = pwd.getpwnam("nobody")
        os.chown(self.mail, nobody.pw_uid, nobody.pw_gid)
        (self.work / "runtime").symlink_to(self.runtime, target_is_directory=True)


def _find_program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
    if found is None:
        raise RelayBedError(
            f"{name} not found: run tests/relay/install-debian-packages.sh (as root) first"
        )
    return found


def _require_root() -> None:
    if os.geteuid() != 0:
        raise RelayBedError("the relay bed must run as root (Postfix's master needs it)")


# ------------------------------------------------------------------ silent port


class _SilentServer:
    """Accepts TCP connections on the loopback and never writes a byte to them."""

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind((LOOPBACK, 0))
        self._listener.listen(16)
        self._listener.setblocking(False)
        self.port = int(self._listener.getsockname()[1])
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="relay-silent", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not selector.select(timeout=0.1):
                    continue
                with contextlib.suppress(BlockingIOError):
                    client, _ = self._listener.accept()
                    self._clients.append(client)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=STOP_TIMEOUT)
        for client in self._clients:
            client.close()
        self._listener.close()


# --------------------------------------------------------------------- Dovecot


def _dovecot_conf(layout: _Layout, users_file: Path) -> str:
    """Dovecot as a SASL server only: no mail protocol, one auth socket for Postfix.

    ``auth_username_chars`` adds the backslash (``CORP\\bob``), ``auth_username_format``
    keeps logins exact (the default ``%Lu`` would lowercase them), and
    ``auth_failure_delay = 0`` makes a wrong password answer within 0.5 s (Dovecot 2.3
    flushes failures on a 500 ms timer) instead of after 2 s.
    """
    chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567890.-_@\\"
    return f"""\
# Generated by tests/relay/bed.py -- SASL backend of the relay test bed.
base_dir = {layout.sasl_socket.parent}
state_dir = {layout.dovecot / "state"}
instance_name = relaybed-{secrets.token_hex(4)}
protocols = none
listen = {LOOPBACK}
ssl = no
log_path = {layout.log / "dovecot.log"}
auth_verbose = yes
auth_mechanisms = plain login cram-md5
disable_plaintext_auth = no
auth_username_chars = "{chars.replace(chr(92), chr(92) * 2)}"
auth_username_format = %u
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users_file}
}}
{dovecot_auth_services(layout)}"""


def dovecot_auth_services(layout: _Layout) -> str:
    """The end of a Dovecot config: the static userdb, no anvil auth penalty, and the
    auth socket Postfix talks to. Shared with the Kerberos relay (tests/kerberos)."""
    return f"""\
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}}
# No anvil "auth penalty": it would delay every AUTH from 127.0.0.1 (even a good
# one) by up to 15 s after a failed login, and the tests fail logins on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener {layout.sasl_socket.name} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""


def _passwd_file(users: tuple[RelayUser, ...]) -> str:
    for user in users:
        if any(ch in user.login + user.password for ch in ":\n"):
            raise ValueError(f"login/password of {user.login!r} cannot hold ':' or newline")
    return "".join(f"{_passwd_file_key(u.login)}:{{PLAIN}}{u.password}::::::\n" for u in users)


def _passwd_file_key(login: str) -> str:
    r"""The login as Dovecot looks it up in a passwd-file.

    Dovecot expands ``%u`` with its string escaping (a backslash before ``\``,
    ``"`` and ``'``), so the login ``CORP\bob`` is looked up as ``CORP\\bob``.
    """
    return "".join("\\" + ch if ch in "\\\"'" else ch for ch in login)


# --------------------------------------------------------------------- Postfix

_AUTH_LISTENER = {
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_tls_auth_only": "yes",
    # Relay restrictions come first: other domains are refused even after AUTH,
    # because the bed delivers to example.test only and never sends anything out.
    "smtpd_relay_restrictions": "reject_unauth_destination",
    "smtpd_recipient_restrictions": "permit_sasl_authenticated,reject",
}


def _listener_options(tls: _TlsFiles) -> dict[str, dict[str, str]]:
    """Per-listener ``-o`` overrides (the listener name is also its ``syslog_name``)."""
    return {
        "plain": {
            "smtpd_tls_security_level": "none",
            "smtpd_sasl_auth_enable": "no",
            "smtpd_relay_restrictions": "reject_unauth_destination",
        },
        "submission": {
            **_AUTH_LISTENER,
            "smtpd_tls_security_level": "may",
            "smtpd_sasl_mechanism_filter": "plain,login",
        },
        "smtps": {
            **_AUTH_LISTENER,
            "smtpd_tls_wrappermode": "yes",
            "smtpd_tls_security_level": "encrypt",
            "smtpd_sasl_mechanism_filter": "plain,login",
        },
        "badcert": {
            **_AUTH_LISTENER,
            "smtpd_tls_security_level": "may",
            "smtpd_tls_chain_files": str(tls.badcert_chain),
            "smtpd_sasl_mechanism_filter": "plain,login",
        },
        "cram": {
            **_AUTH_LISTENER,
            "smtpd_tls_security_level": "may",
            "smtpd_sasl_mechanism_filter": "cram-md5",
        },
    }


def _main_cf(layout: _Layout, tls: _TlsFiles) -> str:
    """main.cf: loopback only, IPv4 only, no DNS, nothing ever leaves the machine."""
    return f"""\
# Generated by tests/relay/bed.py -- do not use outside the relay test bed.
compatibility_level = 3.6
queue_directory = {layout.spool}
data_directory = {layout.runtime / "data"}
mail_owner = postfix
setgid_group = postdrop
default_privs = nobody
maillog_file = {layout.log / "maillog"}
maillog_file_prefixes = {layout.log}
inet_interfaces = {LOOPBACK}
inet_protocols = ipv4
myhostname = {MYHOSTNAME}
mydomain = {DOMAIN}
myorigin = $myhostname
mydestination =
mynetworks =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
smtpd_banner = $myhostname ESMTP relay test bed
disable_dns_lookups = yes
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
default_transport = error:the relay test bed delivers to {DOMAIN} only
relay_transport = $default_transport
local_transport = $default_transport
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_base = {layout.mail}
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:{pwd.getpwnam("nobody").pw_uid}
virtual_gid_maps = static:{pwd.getpwnam("nobody").pw_gid}
smtpd_relay_restrictions = reject_unauth_destination
smtpd_error_sleep_time = 0
in_flow_delay = 0
smtpd_tls_chain_files = {tls.server_chain}
smtpd_tls_security_level = none
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtpd_sasl_type = dovecot
smtpd_sasl_path = {layout.sasl_socket}
smtpd_sasl_auth_enable = no
smtpd_sasl_authenticated_header = yes
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = yes
"""


_MASTER_CF_SERVICES = """\
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _master_cf(ports: _Ports, tls: _TlsFiles) -> str:
    """master.cf: one smtpd per listener, no chroot, no smtp client (nothing goes out)."""
    lines = ["# Generated by tests/relay/bed.py -- no smtp(8) client: nothing is sent out."]
    for name, options in _listener_options(tls).items():
        port = getattr(ports, name)
        lines.append(f"{LOOPBACK}:{port} inet n - n - - smtpd")
        lines.append(f"  -o syslog_name=postfix/{name}")
        lines.extend(f"  -o {key}={value}" for key, value in options.items())
    return "\n".join(lines) + "\n" + _MASTER_CF_SERVICES


# --------------------------------------------------------------------- readiness


def _read_greeting(port: int, context: ssl.SSLContext | None, timeout: float) -> bytes:
    with socket.create_connection((LOOPBACK, port), timeout=timeout) as raw:
        if context is None:
            data = raw.recv(512)
        else:
            with context.wrap_socket(raw, server_hostname=TLS_HOSTNAME) as tls:
                data = tls.recv(512)
                with contextlib.suppress(OSError):
                    tls.sendall(b"QUIT\r\n")
                return data
        with contextlib.suppress(OSError):
            raw.sendall(b"QUIT\r\n")
        return data


def _wait_for_greeting(port: int, context: ssl.SSLContext | None, deadline: float) -> None:
    last_error = "no answer"
    while time.monotonic() < deadline:
        try:
            greeting = _read_greeting(port, context, timeout=2.0)
        except OSError as exc:  # ssl.SSLError is an OSError
            last_error = repr(exc)
        else:
            if greeting.startswith(b"220 "):
                return
            last_error = f"greeting {greeting!r}"
        time.sleep(0.05)
    raise RelayBedError(f"port {port} did not greet in time ({last_error})")


def _unix_socket_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
        return True


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, process group) of ``pid`` from /proc, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[2])


def _group_alive(pgid: int) -> bool:
    """Whether any non-zombie process is left in process group ``pgid``.

    Zombies do not count: the daemonised master is reparented to PID 1, which may
    take a second or two to reap it.
    """
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        info = _proc_stat(int(entry.name))
        if info is not None and info[1] == pgid and info[0] != "Z":
            return True
    return False


def _wait_group_gone(pgid: int, deadline: float) -> bool:
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def _logs(layout: _Layout) -> str:
    names = ("maillog", "dovecot.log", "dovecot.stdout")
    return "\n".join(_tail(layout.log / name) for name in names)


# --------------------------------------------------------------------- the bed


@dataclass
class RelayBed:
    """Starts and stops one Postfix + Dovecot bed; one start per instance.

    ``running = RelayBed().start(empty_dir)`` ... ``bed.stop()``, or use it as a context
    manager after ``start``, or :func:`running_bed`.
    """

    users: tuple[RelayUser, ...] = DEFAULT_USERS
    startup_timeout: float = STARTUP_TIMEOUT
    running: RunningBed | None = field(default=None, init=False)
    _dovecot: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _layout: _Layout | None = field(default=None, init=False, repr=False)
    _postfix_pid: int | None = field(default=None, init=False, repr=False)
    _silent: _SilentServer | None = field(default=None, init=False, repr=False)

    def start(self, workdir: Path) -> RunningBed:
        """Write the configuration under ``workdir`` and start everything.

        Returns once every listener has answered with its greeting; raises
        :class:`RelayBedError` (with the tail of the logs) otherwise, after
        stopping whatever had been started.
        """
        if self._layout is not None:
            raise RelayBedError("this RelayBed was already started")
        _require_root()
        postfix, dovecot = _find_program("postfix"), _find_program("dovecot")
        work = workdir.resolve()
        work.mkdir(parents=True, exist_ok=True)
        if any(work.iterdir()):
            raise RelayBedError(f"workdir must be empty: {work}")
        self._layout = layout = _Layout(work, _make_runtime_dir())
        try:
            return self._start(layout, postfix, dovecot)
        except RelayBedError as exc:
            self.stop()
            raise RelayBedError(f"{exc}\n{_logs(layout)}") from exc
        except BaseException:
            self.stop()
            raise

    def _start(self, layout: _Layout, postfix: str, dovecot: str) -> RunningBed:
        deadline = time.monotonic() + self.startup_timeout
        layout.create()
        longest = max(  # the longest UNIX socket names Postfix and Dovecot will create
            layout.spool / "private" / "proxywrite",
            layout.sasl_socket.parent / "replication-notify-fifo",
            key=lambda path: len(str(path)),
        )
        if len(str(longest)) > _MAX_UNIX_SOCKET_PATH:
            raise RelayBedError(f"path too long for a UNIX socket: {longest}")
        tls = _write_tls(layout.work / "tls")
        self._start_dovecot(dovecot, layout, deadline)
        self._silent = _SilentServer()
        ports = _Ports(*_free_ports(5))
        self._start_postfix(postfix, layout, _main_cf(layout, tls), _master_cf(ports, tls))
        running = RunningBed(
            host=LOOPBACK,
            tls_hostname=TLS_HOSTNAME,
            domain=DOMAIN,
            plain_port=ports.plain,
            submission_port=ports.submission,
            smtps_port=ports.smtps,
            badcert_port=ports.badcert,
            cram_port=ports.cram,
            silent_port=self._silent.port,
            ca_pem=tls.ca_pem,
            untrusted_ca_pem=tls.untrusted_ca_pem,
            users=self.users,
            workdir=layout.work,
            runtime_dir=layout.runtime,
            maildir=layout.mail / "inbox",
            maillog=layout.log / "maillog",
            dovecot_log=layout.log / "dovecot.log",
        )
        self._wait_ready(running, deadline)
        self.running = running
        return running

    def _start_dovecot(self, dovecot: str, layout: _Layout, deadline: float) -> None:
        users_file = layout.dovecot / "users"
        users_file.write_text(_passwd_file(self.users), encoding="utf-8")
        users_file.chmod(0o640)
        os.chown(users_file, 0, pwd.getpwnam("dovecot").pw_gid)
        layout.dovecot_conf.write_text(_dovecot_conf(layout, users_file))
        # -F: stay in the foreground, so the Popen is the master and stop() owns it.
        with (layout.log / "dovecot.stdout").open("wb") as output:
            self._dovecot = subprocess.Popen(
                [dovecot, "-F", "-c", str(layout.dovecot_conf)],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        while not _unix_socket_accepts(layout.sasl_socket):
            if self._dovecot.poll() is not None:
                raise RelayBedError(f"dovecot exited with {self._dovecot.returncode}")
            if time.monotonic() >= deadline:
                raise RelayBedError(f"Dovecot auth socket {layout.sasl_socket} not ready")
            time.sleep(0.05)

    def _start_postfix(self, postfix: str, layout: _Layout, main_cf: str, master_cf: str) -> None:
        for name, text in (("main.cf", main_cf), ("master.cf", master_cf)):
            path = layout.postfix_conf / name
            path.write_text(text)
            # Postfix sleeps in 0.3 s steps while main.cf is less than ~2 s old (a
            # guard against reading a file being edited); backdating it saves ~2 s.
            past = time.time() - 60
            os.utime(path, (past, past))
        # "postfix start" runs the integrity checks, creates the queue directories,
        # and returns once master(8) has initialised (master -w); its pid is on disk.
        result = subprocess.run(
            [postfix, "-c", str(layout.postfix_conf), "start"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=self.startup_timeout,
            check=False,
        )
        pid_file = layout.spool / "pid" / "master.pid"
        if pid_file.exists():
            self._postfix_pid = int(pid_file.read_text().strip())
        if result.returncode != 0:
            raise RelayBedError(
                f"postfix start failed ({result.returncode}):\n{result.stdout}{result.stderr}"
            )
        if self._postfix_pid is None:
            raise RelayBedError(f"postfix started but wrote no {pid_file}")

    def _wait_ready(self, running: RunningBed, deadline: float) -> None:
        context = running.ssl_context()
        _wait_for_greeting(running.plain_port, None, deadline)
        _wait_for_greeting(running.submission_port, None, deadline)
        _wait_for_greeting(running.badcert_port, None, deadline)
        _wait_for_greeting(running.cram_port, None, deadline)
        _wait_for_greeting(running.smtps_port, context, deadline)

    def stop(self) -> None:
        """Stop Postfix, Dovecot and the silent listener, each by its own pid.

        Then delete the runtime directory (queue, Maildir); ``workdir`` with the
        configuration and the logs stays for a post-mortem.
        """
        try:
            self._stop_postfix()
        finally:
            try:
                self._stop_dovecot()
            finally:
                if self._silent is not None:
                    self._silent.close()
                    self._silent = None
                if self._layout is not None:
                    shutil.rmtree(self._layout.runtime, ignore_errors=True)
                self.running = None

    def _stop_postfix(self) -> None:
        pid, self._postfix_pid = self._postfix_pid, None
        if pid is None:
            return
        info = _proc_stat(pid)
        if info is None or info[1] != pid:
            return  # gone, or the pid was reused by something that is not our master
        # SIGTERM makes master(8) signal its process group (its children) and exit;
        # "postfix start" made it a session leader, so the group is exactly the bed's.
        os.kill(pid, signal.SIGTERM)
        if not _wait_group_gone(pid, time.monotonic() + STOP_TIMEOUT):
            os.killpg(pid, signal.SIGKILL)
            _wait_group_gone(pid, time.monotonic() + STOP_TIMEOUT)

    def _stop_dovecot(self) -> None:
        process, self._dovecot = self._dovecot, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def __enter__(self) -> RelayBed:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def running_bed(workdir: Path) -> Iterator[RunningBed]:
    """``with running_bed(path) as bed: ...`` starts a bed and always stops it."""
    bed = RelayBed()
    try:
        yield bed.start(workdir)
    finally:
        bed.stop()


def describe(bed: RunningBed) -> str:
    """A human-readable summary: ports, users, CA and log paths."""
    lines = [
        f"host {bed.host} (certificates for {bed.tls_hostname} and {bed.host})",
        f"plain       {bed.plain_port:>5}  no TLS, no AUTH, mail for {bed.domain} only",
        f"submission  {bed.submission_port:>5}  STARTTLS, then AUTH PLAIN LOGIN (required)",
        f"smtps       {bed.smtps_port:>5}  implicit TLS, AUTH PLAIN LOGIN (required)",
        f"badcert     {bed.badcert_port:>5}  STARTTLS with a certificate from an untrusted CA",
        f"cram        {bed.cram_port:>5}  STARTTLS, then AUTH CRAM-MD5 only",
        f"silent      {bed.silent_port:>5}  accepts TCP, never greets",
        *(f"user {user.login!r} password {user.password!r}" for user in bed.users),
        f"CA          {bed.ca_pem}",
        f"Maildir     {bed.maildir}",
        f"mail log    {bed.maillog}",
        f"SASL log    {bed.dovecot_log}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run a bed by hand until Ctrl-C: ``python -m tests.relay.bed WORKDIR``."""
    parser = argparse.ArgumentParser(description="Run the Postfix + Dovecot relay test bed.")
    parser.add_argument("workdir", type=Path, help="directory for config, TLS files, logs")
    args = parser.parse_args(argv)
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with running_bed(args.workdir) as bed:
        print(describe(bed), flush=True)
        print("running; Ctrl-C stops it", flush=True)
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
