"""Integrated authentication (RelayAuthenticationType 1): the service's own identity.

The identity is configured by the operator (``SMTP_PROFILE_KERBEROS_*``,
``SMTP_PROFILE_NTLM_*``), never taken from a request. :class:`ServiceIdentity` is that
configuration, pure data; :func:`authenticate` runs the SASL exchange over the
sender's aiosmtplib connection:

* GSSAPI (RFC 4752): Kerberos through python-gssapi (MIT libgssapi-krb5). Initiator
  credentials come from the client keytab (kept in a private in-memory ticket cache,
  or the operator's ccache); the target is ``<service>@<Host>``; mutual
  authentication; then the security-layer message, answered with "no security layer".
* NTLM (AUTH NTLM: NEGOTIATE, CHALLENGE, AUTHENTICATE): pyspnego's NTLM (v2), with
  the password read from its file when it is used.

Kerberos is preferred when the identity has a keytab or ticket cache and the relay
offers GSSAPI; else NTLM when configured and offered. Every SASL line, in both
directions, is recorded as ``***``: this module writes them to the transcript itself
and sends through the plain aiosmtplib client underneath the sender's recording one.
Failures are :class:`IntegratedAuthError` with a catalogue class; relay replies are
aiosmtplib's ``SMTPAuthenticationError`` (the sender classifies those).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import aiosmtplib
import spnego
import spnego.exceptions

from smtp_profile.mail.diagnosis import Failure
from smtp_profile.mail.transcript import REDACTED, Transcript
from smtp_profile.secret import Secret

if TYPE_CHECKING:
    from smtp_profile.settings import Settings


class Mechanism(StrEnum):
    GSSAPI = "GSSAPI"
    NTLM = "NTLM"


@dataclass(frozen=True, slots=True)
class ServiceIdentity:
    """Who the service is when it logs in by itself; the default is "nobody configured"."""

    kerberos_principal: str | None = None
    kerberos_keytab: Path | None = None
    kerberos_ccache: str | None = None
    kerberos_service: str = "smtp"
    ntlm_username: str | None = None
    ntlm_password_file: Path | None = None
    relay_hosts: frozenset[str] = frozenset()  # empty: any relay

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceIdentity:
        return cls(
            kerberos_principal=settings.kerberos_principal,
            kerberos_keytab=settings.kerberos_keytab,
            kerberos_ccache=settings.kerberos_ccache,
            kerberos_service=settings.kerberos_service,
            ntlm_username=settings.ntlm_username,
            ntlm_password_file=settings.ntlm_password_file,
            relay_hosts=settings.integrated_relay_hosts,
        )

    @property
    def has_kerberos(self) -> bool:
        """A keytab (with its principal) or a ticket cache: the service can get tickets."""
        keytab = self.kerberos_keytab is not None and self.kerberos_principal is not None
        return keytab or self.kerberos_ccache is not None

    @property
    def has_ntlm(self) -> bool:
        return self.ntlm_username is not None and self.ntlm_password_file is not None

    def problem(self) -> Failure | None:
        """What is missing from the configuration, naming the setting; None when usable."""
        kerberos = (self.kerberos_principal, self.kerberos_keytab, self.kerberos_ccache)
        ntlm = (self.ntlm_username, self.ntlm_password_file)
        if all(value is None for value in (*kerberos, *ntlm)):
            return Failure.INTEGRATED_NOT_CONFIGURED
        if self.kerberos_keytab is not None and self.kerberos_principal is None:
            return Failure.KERBEROS_PRINCIPAL_NOT_SET
        if self.kerberos_principal is not None and not self.has_kerberos:
            return Failure.KERBEROS_KEYTAB_NOT_SET
        if self.ntlm_username is not None and self.ntlm_password_file is None:
            return Failure.NTLM_PASSWORD_FILE_NOT_SET
        if self.ntlm_password_file is not None and self.ntlm_username is None:
            return Failure.NTLM_USERNAME_NOT_SET
        return None

    def allows(self, host: str) -> bool:
        return not self.relay_hosts or normalise_host(host) in self.relay_hosts

    def mechanisms(self) -> list[Mechanism]:
        """What this identity can do, in order of preference."""
        found = [Mechanism.GSSAPI] if self.has_kerberos else []
        return [*found, Mechanism.NTLM] if self.has_ntlm else found

    def describe(self, mechanism: Mechanism) -> str:
        if mechanism is Mechanism.NTLM:
            return f"{self.ntlm_username} with NTLM"
        who = self.kerberos_principal or "the ticket cache's principal"
        return f"{who} with GSSAPI (Kerberos)"


def normalise_host(host: str) -> str:
    """Host as compared with ``SMTP_PROFILE_INTEGRATED_RELAY_HOSTS``."""
    return host.strip().strip("[]").rstrip(".").lower()


def choose_mechanism(identity: ServiceIdentity, offered: Iterable[str]) -> Mechanism | None:
    """The first mechanism of the identity's preference that the relay offers."""
    names = {name.upper() for name in offered}
    return next((m for m in identity.mechanisms() if m.value in names), None)


class IntegratedAuthError(Exception):
    """Type 1 failed before or between the relay's replies; nothing more is sent."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(detail)
        self.failure, self.detail = failure, detail


async def authenticate(
    smtp: aiosmtplib.SMTP,
    identity: ServiceIdentity,
    *,
    host: str,
    transcript: Transcript,
    encrypted: bool,
    cleartext_allowed: bool,
) -> None:
    """Log in to the relay on ``smtp`` (after EHLO) as ``identity``, or raise.

    ``host`` is the relay's name as the user gave it (it names the Kerberos service
    principal); ``cleartext_allowed`` is true on the loopback or when the operator allows
    secrets without TLS (NTLM needs it without TLS; Kerberos does not).
    """
    problem = identity.problem()
    if problem is not None:
        raise IntegratedAuthError(
            problem, "integrated authentication is not configured on this server"
        )
    if not identity.allows(host):
        raise IntegratedAuthError(
            Failure.INTEGRATED_HOST_NOT_ALLOWED,
            f"the service identity is not used with {host} (operator setting); nothing was sent",
        )
    if not smtp.supports_extension("auth"):
        failure = Failure.AUTH_NOT_OFFERED
        if not encrypted and smtp.supports_extension("starttls"):
            failure = Failure.AUTH_ONLY_AFTER_TLS
        raise IntegratedAuthError(failure, "the server does not offer AUTH here")
    offered = smtp.esmtp_extensions.get("auth", "").split()
    mechanism = choose_mechanism(identity, offered)
    if mechanism is None:
        can = " or ".join(m.value for m in identity.mechanisms())
        raise IntegratedAuthError(
            Failure.NO_COMMON_MECHANISM,
            f"the server offers {' '.join(offered) or 'none'}; the service identity can use {can}",
        )
    who = identity.describe(mechanism)
    transcript.note(f"authenticating with the service's own identity: {who}")
    channel = _Channel(smtp, transcript)
    if mechanism is Mechanism.GSSAPI:
        await _gssapi(channel, identity, host)
    else:
        if not (encrypted or cleartext_allowed):
            raise IntegratedAuthError(
                Failure.NTLM_CLEARTEXT_REFUSED,
                "NTLM would run without encryption to a host that is not this machine; "
                "nothing was sent",
            )
        await _ntlm(channel, identity, host)


# ----------------------------------------------------------------- the SASL lines


class _Channel:
    """Sends SASL lines and records them: every token, both ways, as ``***``.

    Commands go through :meth:`aiosmtplib.SMTP.execute_command` of the base class, so
    the sender's recording subclass does not write the server's challenges verbatim.
    """

    def __init__(self, smtp: aiosmtplib.SMTP, transcript: Transcript) -> None:
        self.smtp, self.transcript = smtp, transcript

    async def start(self, mechanism: Mechanism) -> None:
        """``AUTH <mechanism>``, without an initial response (Kerberos tokens can be
        long). The text of the first 334 is not used (Exchange says "NTLM supported")."""
        self.transcript.client(f"AUTH {mechanism}")
        command = (b"AUTH", mechanism.value.encode("ascii"))
        response = await aiosmtplib.SMTP.execute_command(self.smtp, *command)
        if response.code != 334:
            self._refused(response)
        self.transcript.server(334, REDACTED)

    async def send(self, token: bytes) -> bytes | None:
        """One response; the next challenge, or None once the relay said 235."""
        encoded = base64.b64encode(token)
        if encoded:
            self.transcript.add_secret(encoded.decode("ascii"))
        self.transcript.client(REDACTED)
        return await self._reply(await aiosmtplib.SMTP.execute_command(self.smtp, encoded))

    async def _reply(self, response: aiosmtplib.SMTPResponse) -> bytes | None:
        if response.code == 334:
            self.transcript.server(334, REDACTED)
            try:
                return base64.b64decode(response.message.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise IntegratedAuthError(
                    Failure.PROTOCOL_ERROR, "the server's challenge is not base64"
                ) from None
        if response.code == 235:
            self.transcript.server(response.code, response.message)
            return None
        self._refused(response)

    def _refused(self, response: aiosmtplib.SMTPResponse) -> NoReturn:
        """The relay's refusal, for the sender to classify (535 is auth-failed)."""
        self.transcript.server(response.code, response.message)
        raise aiosmtplib.SMTPAuthenticationError(response.code, response.message)

    async def cancel(self) -> None:
        """Abandon the exchange (RFC 4954 ``*``); the connection may already be gone."""
        self.transcript.client("*")
        try:
            response = await aiosmtplib.SMTP.execute_command(self.smtp, b"*")
        except Exception as exc:
            self.transcript.note(f"cancelling AUTH did not complete ({type(exc).__name__})")
        else:
            self.transcript.server(response.code, response.message)


def _done(reply: bytes | None, mechanism: Mechanism) -> None:
    if reply is not None:
        raise IntegratedAuthError(
            Failure.PROTOCOL_ERROR, f"the server asked for more after the {mechanism} exchange"
        )


# ----------------------------------------------------------------- GSSAPI (Kerberos)

_UNSIGNED = 0xFFFFFFFF
# MIT krb5 error codes (krb5/krb5.h); GSSAPI reports them as unsigned minor status.
_KDC_UNREACHABLE = {
    code & _UNSIGNED
    for code in (
        -1765328228,  # KRB5_KDC_UNREACH: cannot contact any KDC for realm
        -1765328230,  # KRB5_REALM_UNKNOWN: cannot find KDC for realm
        -1765328164,  # KRB5_REALM_CANT_RESOLVE
        -1765328160,  # KRB5_CONFIG_NODEFREALM
    )
}
_UNKNOWN_SERVER = {-1765328377 & _UNSIGNED}  # KRB5KDC_ERR_S_PRINCIPAL_UNKNOWN
_NO_TICKET = {
    code & _UNSIGNED
    for code in (
        -1765328378,  # KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN
        -1765328383,  # KRB5KDC_ERR_NAME_EXP
        -1765328366,  # KRB5KDC_ERR_CLIENT_REVOKED
        -1765328361,  # KRB5KDC_ERR_KEY_EXP
        -1765328360,  # KRB5KDC_ERR_PREAUTH_FAILED
        -1765328353,  # KRB5KRB_AP_ERR_BAD_INTEGRITY (stale key in the keytab)
        -1765328352,  # KRB5KRB_AP_ERR_TKT_EXPIRED
        -1765328243,  # KRB5_CC_NOTFOUND
        -1765328190,  # KRB5_FCC_PERM
        -1765328189,  # KRB5_FCC_NOFILE: no credentials cache found
        -1765328203,  # KRB5_KT_NOTFOUND
        -1765328202,  # KRB5_KT_END
        -1765328200,  # KRB5_KT_IOERR
        -1765328154,  # KRB5_KT_KVNONOTFOUND
    )
}
_GSS_S_NO_CRED = 7 << 16


def classify_kerberos_error(major: int, minor: int) -> Failure:
    """The failure class of a GSSAPI error from its major and minor (krb5) status."""
    minor &= _UNSIGNED
    if minor in _KDC_UNREACHABLE:
        return Failure.KERBEROS_KDC_UNREACHABLE
    if minor in _UNKNOWN_SERVER:
        return Failure.KERBEROS_UNKNOWN_RELAY
    if minor in _NO_TICKET or major & (0xFF << 16) == _GSS_S_NO_CRED:
        return Failure.KERBEROS_NO_TICKET
    return Failure.KERBEROS_FAILED


def _kerberos_error(exc: Any, what: str) -> IntegratedAuthError:
    text = str(exc.gen_message()) if hasattr(exc, "gen_message") else str(exc)
    reason = text.rpartition("): ")[2].strip() or text
    failure = classify_kerberos_error(int(getattr(exc, "maj_code", 0) or 0), _minor(exc))
    return IntegratedAuthError(failure, f"Kerberos: {what}: {reason}")


def _minor(exc: Any) -> int:
    return int(getattr(exc, "min_code", 0) or 0)


def memory_ccache(identity: ServiceIdentity) -> str:
    """The private in-memory ticket cache of a keytab identity (reused while valid)."""
    key = f"{identity.kerberos_principal}\0{identity.kerberos_keytab}".encode()
    return f"MEMORY:smtp-profile-{hashlib.sha256(key).hexdigest()[:16]}"


class _Kerberos:
    """An initiator context for ``<service>@<host>``; blocking calls, run in a thread."""

    def __init__(self, identity: ServiceIdentity, host: str) -> None:
        self.identity, self.host = identity, host
        self.target = f"{identity.kerberos_service}@{host}"
        self.context: Any = None
        self.error: type[Exception] = Exception  # gssapi's GSSError, once it is loaded

    def first_token(self) -> bytes:
        """Acquire the service's credentials (the KDC may be asked) and the AP-REQ."""
        try:
            import gssapi  # type: ignore[import-not-found, unused-ignore]
            import gssapi.raw.misc  # type: ignore[import-not-found, unused-ignore]
        except ImportError as exc:
            raise IntegratedAuthError(
                Failure.KERBEROS_UNAVAILABLE, f"the gssapi package cannot be loaded ({exc})"
            ) from None
        self.error = gssapi.raw.misc.GSSError
        identity = self.identity
        if identity.kerberos_keytab is not None:
            try:
                identity.kerberos_keytab.open("rb").close()
            except OSError as exc:
                raise IntegratedAuthError(
                    Failure.KERBEROS_NO_TICKET,
                    f"the keytab {identity.kerberos_keytab} cannot be read ({exc.strerror})",
                ) from None
        store: dict[bytes | str, bytes | str] = {
            "ccache": identity.kerberos_ccache or memory_ccache(identity)
        }
        if identity.kerberos_keytab is not None:
            store["client_keytab"] = str(identity.kerberos_keytab)
        try:
            name = (
                gssapi.Name(identity.kerberos_principal, gssapi.NameType.kerberos_principal)
                if identity.kerberos_principal is not None
                else None
            )
            credentials = gssapi.Credentials(name=name, usage="initiate", store=store)
            flags = gssapi.RequirementFlag
            self.context = gssapi.SecurityContext(
                name=gssapi.Name(self.target, gssapi.NameType.hostbased_service),
                creds=credentials,
                usage="initiate",
                mech=gssapi.MechType.kerberos,
                flags=flags.mutual_authentication | flags.integrity,
            )
            token: bytes | None = self.context.step()
        except self.error as exc:
            raise _kerberos_error(exc, f"no ticket for {self.target}") from None
        return token or b""

    @property
    def complete(self) -> bool:
        return bool(self.context.complete)

    def step(self, challenge: bytes) -> bytes:
        try:
            token: bytes | None = self.context.step(challenge)
        except self.error as exc:
            raise _kerberos_error(exc, f"the relay's answer for {self.target}") from None
        return token or b""

    def security_layer(self, challenge: bytes) -> bytes:
        """RFC 4752 §3.1: read the offer, choose "no security layer", no authzid."""
        try:
            offer = bytes(self.context.unwrap(challenge).message)
        except self.error as exc:
            raise _kerberos_error(exc, "the relay's security-layer message") from None
        if len(offer) != 4:
            raise IntegratedAuthError(
                Failure.PROTOCOL_ERROR, "the relay's GSSAPI security-layer message is malformed"
            )
        if not offer[0] & 0x01:
            raise IntegratedAuthError(
                Failure.KERBEROS_FAILED,
                "the relay requires a GSSAPI security layer; this service uses TLS instead",
            )
        try:
            return bytes(self.context.wrap(b"\x01\x00\x00\x00", False).message)
        except self.error as exc:
            raise _kerberos_error(exc, "the security-layer answer") from None


async def _gssapi(channel: _Channel, identity: ServiceIdentity, host: str) -> None:
    kerberos = _Kerberos(identity, host)
    token = await asyncio.to_thread(kerberos.first_token)
    channel.transcript.note(f"Kerberos: service ticket for {kerberos.target}")
    await channel.start(Mechanism.GSSAPI)
    try:
        challenge = await channel.send(token)
        while challenge is not None and not kerberos.complete:
            challenge = await channel.send(kerberos.step(challenge))
        if challenge is not None:
            _done(await channel.send(kerberos.security_layer(challenge)), Mechanism.GSSAPI)
    except IntegratedAuthError:
        await channel.cancel()
        raise


# ----------------------------------------------------------------- NTLM


def read_password(path: Path) -> Secret:
    """The first line of the password file, read now (it may have been rotated)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise IntegratedAuthError(
            Failure.NTLM_PASSWORD_UNREADABLE, f"the NTLM password file cannot be read ({reason})"
        ) from None
    password = text.splitlines()[0] if text else ""
    if not password:
        raise IntegratedAuthError(
            Failure.NTLM_PASSWORD_UNREADABLE, "the NTLM password file is empty"
        )
    return Secret(password)


async def _ntlm(channel: _Channel, identity: ServiceIdentity, host: str) -> None:
    assert identity.ntlm_username is not None and identity.ntlm_password_file is not None
    password = await asyncio.to_thread(read_password, identity.ntlm_password_file)
    channel.transcript.add_secret(password.reveal())
    context = spnego.client(
        identity.ntlm_username,
        password.reveal(),
        hostname=host,
        service=identity.kerberos_service,
        protocol="ntlm",
        options=spnego.NegotiateOptions.use_ntlm,
    )
    negotiate = context.step() or b""
    await channel.start(Mechanism.NTLM)
    try:
        challenge = await channel.send(negotiate)
        if challenge is None:
            return  # a relay that accepts before the challenge: nothing more to prove
        try:
            answer = context.step(challenge) or b""
        except spnego.exceptions.SpnegoError as exc:
            raise IntegratedAuthError(
                Failure.PROTOCOL_ERROR, f"the relay's NTLM challenge is invalid ({exc})"
            ) from None
        _done(await channel.send(answer), Mechanism.NTLM)
    except IntegratedAuthError:
        await channel.cancel()
        raise
