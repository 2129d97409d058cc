"""The service layer: the API, the web page and the CLI all call this.

It holds the one in-memory copy of the profile that reads are served from,
so an authenticated GET costs no database round trip.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from smtp_profile.accounts import Principal
from smtp_profile.audit import Operation, diff_settings
from smtp_profile.audit_trail import AuditTrail
from smtp_profile.crypto import SecretBox
from smtp_profile.errors import PreconditionFailed
from smtp_profile.mail.integrated import ServiceIdentity
from smtp_profile.mail.message import build_test_message, needs_smtputf8
from smtp_profile.mail.plan import (
    Credentials,
    Integrated,
    QuitAfter,
    SendPlan,
    TestOutcome,
    Timeouts,
    TlsPolicy,
)
from smtp_profile.mail.sender import Resolver, run_test, system_resolver
from smtp_profile.mail.tlsmode import choose_tls_mode
from smtp_profile.profile import (
    AuthType,
    ProfileRequest,
    ProfileSettings,
    TestRequest,
    plan_password,
    profile_view,
)
from smtp_profile.secret import Secret
from smtp_profile.settings import Settings
from smtp_profile.store.changes import ChangeProbe
from smtp_profile.store.database import Database
from smtp_profile.store.profiles import StoredProfile, load_profile, save_profile


@dataclass(frozen=True, slots=True)
class ProfileSnapshot:
    """The profile as clients see it, with the version that makes its ETag."""

    settings: ProfileSettings
    has_password: bool
    revision: int

    @property
    def etag(self) -> str:
        return f'"r{self.revision}"'

    def view(self) -> dict[str, object]:
        return profile_view(self.settings, has_password=self.has_password)


def _snapshot(stored: StoredProfile) -> ProfileSnapshot:
    return ProfileSnapshot(
        settings=stored.settings, has_password=stored.has_password, revision=stored.revision
    )


def etag_matches(if_match: str, etag: str) -> bool:
    """RFC 9110 If-Match: ``*`` or any listed (strong) tag."""
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or etag in tags


class ProfileService:
    def __init__(
        self,
        *,
        database: Database,
        box: SecretBox,
        settings: Settings,
        trail: AuditTrail,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._trail = trail
        self._database = database
        self._box = box
        self._settings = settings
        self._resolver = resolver
        self._lock = threading.Lock()
        self._snapshot: ProfileSnapshot | None = None
        self._probe: ChangeProbe | None = None

    def watch(self, probe: ChangeProbe) -> None:
        """Serve reads from memory, re-reading when ``probe`` reports a change."""
        self._probe = probe

    def current(self) -> ProfileSnapshot:
        """The profile; reads the whole row only when another writer changed it.

        May block on the database: async callers try :meth:`cached` first.
        """
        snapshot = self._snapshot
        if snapshot is not None and (self._probe is None or not self._probe.changed()):
            return snapshot
        return self.reload()

    def cached(self) -> ProfileSnapshot | None:
        """The profile without blocking, or ``None`` when that needs a database
        round trip (then call :meth:`current` off the event loop).

        With a local probe (SQLite) a change by another process is re-read at
        once: that is a local file read, as cheap as the check.
        """
        snapshot = self._snapshot
        probe = self._probe
        if probe is not None and probe.blocking:
            return None
        if snapshot is None or (probe is not None and probe.changed()):
            return self.reload()
        return snapshot

    def reload(self) -> ProfileSnapshot:
        with self._database.read() as connection:
            stored = load_profile(connection)
        snapshot = _snapshot(stored)
        with self._lock:
            self._snapshot = snapshot
        return snapshot

    def verify_secrets_readable(self) -> None:
        """Fail at startup (not at the first Test) when the key cannot read the secret."""
        with self._database.read() as connection:
            stored = load_profile(connection)
        if stored.password_token is not None:
            self._box.decrypt(stored.password_token)

    def replace(
        self,
        request: ProfileRequest,
        *,
        actor: Principal,
        client: str | None = None,
        if_match: str | None = None,
    ) -> ProfileSnapshot:
        """Full replacement and its audit record in one transaction; a stale
        ``If-Match`` changes nothing."""
        with self._database.write() as connection:
            previous = load_profile(connection, for_update=True)
            if if_match is not None and not etag_matches(if_match, _snapshot(previous).etag):
                raise PreconditionFailed(
                    "The profile was changed by someone else since you read it "
                    f"(now {_snapshot(previous).etag}); reload it and apply your change again."
                )
            plan = plan_password(
                request, previous.settings, has_stored_password=previous.has_password
            )
            if plan.keep_stored:
                token = previous.password_token
            elif plan.new_password is not None:
                token = self._box.encrypt(plan.new_password)
            else:
                token = None
            stored = save_profile(
                connection,
                previous=previous,
                settings=request.settings,
                password_token=token,
                actor=actor.name,
            )
            changes = diff_settings(
                previous.settings,
                stored.settings,
                password_before=previous.has_password,
                password_after=stored.has_password,
                password_replaced=plan.new_password is not None,
            )
            self._trail.append(
                connection,
                self._trail.entry(
                    user=actor.name,
                    client=client,
                    operation=Operation.PUT,
                    outcome="ok",
                    changes=changes,
                    detail=f"revision {stored.revision}",
                ),
            )
        snapshot = _snapshot(stored)
        with self._lock:
            if self._snapshot is None or self._snapshot.revision < snapshot.revision:
                self._snapshot = snapshot
        return snapshot

    async def test(
        self,
        request: TestRequest,
        *,
        actor: Principal,
        client: str | None = None,
        quit_after: QuitAfter | None = None,
    ) -> TestOutcome:
        """Send a real test message with the request's settings (nothing is stored),
        and record the attempt in the audit trail."""
        login = await asyncio.to_thread(self._login_for, request.profile)
        plan = self.build_plan(request, login=login, quit_after=quit_after)
        outcome = await run_test(plan, resolver=self._resolver)
        settings = request.profile.settings
        entry = self._trail.entry(
            user=actor.name,
            client=client,
            operation=Operation.TEST,
            outcome="ok" if outcome.success else f"failed:{outcome.stage}",
            detail=(
                f"{settings.host}:{settings.port} type {int(settings.auth_type)} "
                f"to {request.recipient}: {outcome.summary()}"
            ),
        )
        await asyncio.to_thread(self._trail.record, entry)
        return outcome

    def stored_test_request(self, recipient: str) -> TestRequest:
        """A Test of the stored profile (the CLI's ``test --to``)."""
        snapshot = self.reload()
        return TestRequest(
            profile=ProfileRequest(settings=snapshot.settings, password=None),
            recipient=recipient,
        )

    def _login_for(self, request: ProfileRequest) -> Credentials | Integrated | None:
        settings = request.settings
        if settings.auth_type is AuthType.ANONYMOUS:
            return None
        if settings.auth_type is AuthType.INTEGRATED:
            return Integrated(identity=ServiceIdentity.from_settings(self._settings))
        assert settings.username is not None
        with self._database.read() as connection:
            stored = load_profile(connection)
        plan = plan_password(request, stored.settings, has_stored_password=stored.has_password)
        password: Secret
        if plan.new_password is not None:
            password = plan.new_password
        else:
            assert stored.password_token is not None
            password = self._box.decrypt(stored.password_token)
        return Credentials(username=settings.username, password=password)

    def build_plan(
        self,
        request: TestRequest,
        *,
        login: Credentials | Integrated | None,
        quit_after: QuitAfter | None = None,
    ) -> SendPlan:
        settings = request.profile.settings
        config = self._settings
        assert settings.host and settings.sender_account and settings.sender_name
        message = build_test_message(
            sender_account=settings.sender_account,
            sender_name=settings.sender_name,
            recipient=request.recipient,
            sent_at=datetime.now(UTC),
            message_id_domain=settings.sender_account.rpartition("@")[2],
        )
        return SendPlan(
            host=settings.host,
            port=settings.port,
            tls_mode=choose_tls_mode(
                use_ssl=settings.use_ssl,
                port=settings.port,
                implicit_tls_ports=config.implicit_tls_ports,
            ),
            tls_policy=TlsPolicy(verify=config.tls_verify, ca_file=config.ca_file),
            login=login,
            sender=settings.sender_account,
            recipient=request.recipient,
            message=message.as_bytes(),
            helo_name=config.helo_name,
            timeouts=Timeouts(
                connect=config.connect_timeout,
                command=config.command_timeout,
                total=config.test_timeout,
            ),
            allow_cleartext_auth=config.allow_cleartext_auth,
            smtputf8=needs_smtputf8(settings.sender_account, request.recipient),
            implicit_tls_ports=tuple(sorted(config.implicit_tls_ports)),
            egress=config.egress_policy,
            quit_after=quit_after,
        )
