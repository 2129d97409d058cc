"""The service layer: the API, the web page and the CLI all call this.

It holds the one in-memory copy of the profile that reads are served from,
so an authenticated GET costs no database round trip.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

from smtp_profile.accounts import Principal
from smtp_profile.audit import Operation, diff_settings
from smtp_profile.audit_trail import AuditTrail
from smtp_profile.crypto import SecretBox
from smtp_profile.errors import PreconditionFailed
from smtp_profile.logins import Logins
from smtp_profile.mail.diagnosis import Stage
from smtp_profile.mail.message import build_test_message, needs_smtputf8
from smtp_profile.mail.plan import (
    Login,
    QuitAfter,
    SendPlan,
    TestOutcome,
    Timeouts,
    TlsPolicy,
)
from smtp_profile.mail.sender import Resolver, failed_before_start, run_test, system_resolver
from smtp_profile.mail.tlsmode import choose_tls_mode
from smtp_profile.oauth.cache import TokenCache
from smtp_profile.profile import AuthType, ProfileRequest, TestRequest
from smtp_profile.secret import Secret
from smtp_profile.secret_plan import plan_secrets
from smtp_profile.secret_policy import SecretProblem
from smtp_profile.settings import Settings
from smtp_profile.snapshot import ProfileSnapshot, etag_matches, snapshot_of
from smtp_profile.store.changes import ChangeProbe
from smtp_profile.store.database import Database
from smtp_profile.store.profiles import EMPTY_PROFILE, StoredProfile, load_profile, save_profile

__all__ = ["ProfileService", "ProfileSnapshot", "etag_matches"]


# Anonymous and integrated logins use no stored secret: their Test reads no database.
_NO_STORED_SECRET = frozenset({AuthType.ANONYMOUS, AuthType.INTEGRATED})


class ProfileService:
    def __init__(
        self,
        *,
        database: Database,
        box: SecretBox,
        settings: Settings,
        trail: AuditTrail,
        resolver: Resolver = system_resolver,
        tokens: TokenCache | None = None,
    ) -> None:
        self._trail = trail
        self._database = database
        self._box = box
        self._settings = settings
        self._resolver = resolver
        self._lock = threading.Lock()
        self._snapshot: ProfileSnapshot | None = None
        self._probe: ChangeProbe | None = None
        self.logins = Logins(
            box=box, settings=settings, resolver=resolver, tokens=tokens or TokenCache()
        )

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
        snapshot = snapshot_of(stored)
        with self._lock:
            self._snapshot = snapshot
        return snapshot

    def verify_secrets_readable(self) -> None:
        """Fail at startup (not at the first Test) when the key cannot read the secret."""
        with self._database.read() as connection:
            stored = load_profile(connection)
        for token in stored.tokens():
            self._box.decrypt(token)

    def replace(
        self,
        request: ProfileRequest,
        *,
        actor: Principal,
        client: str | None = None,
        if_match: str | None = None,
    ) -> ProfileSnapshot:
        """Full replacement and its audit record in one transaction; a stale
        ``If-Match`` changes nothing. References the request gives are read once first
        (outside the transaction: a command may take a while); a bad one is a 400."""
        self.logins.check_references(request)
        with self._database.write() as connection:
            previous = load_profile(connection, for_update=True)
            if if_match is not None and not etag_matches(if_match, snapshot_of(previous).etag):
                raise PreconditionFailed(
                    "The profile was changed by someone else since you read it "
                    f"(now {snapshot_of(previous).etag}); reload it and apply your change again."
                )
            plan = plan_secrets(request, previous.secrets)
            stored = save_profile(
                connection,
                previous=previous,
                settings=plan.settings,
                password_token=self._token(
                    plan.password, previous.password_token, keep=plan.keep_password
                ),
                client_secret_token=self._token(
                    plan.client_secret, previous.client_secret_token, keep=plan.keep_client_secret
                ),
                actor=actor.name,
            )
            changes = diff_settings(
                previous.secrets,
                stored.secrets,
                password_replaced=plan.password is not None,
                client_secret_replaced=plan.client_secret is not None,
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
        snapshot = snapshot_of(stored)
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
        try:
            if request.profile.settings.auth_type in _NO_STORED_SECRET:
                login = self._login_for(request.profile, stored=EMPTY_PROFILE)  # no I/O
            else:
                login = await asyncio.to_thread(self._login_for, request.profile)
        except SecretProblem as problem:
            outcome = failed_before_start(Stage.CONFIG, problem.failure, problem.message)
        else:
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

    def _token(self, new: Secret | None, stored: bytes | None, *, keep: bool) -> bytes | None:
        if new is not None:
            return self._box.encrypt(new)
        return stored if keep else None

    def _login_for(
        self, request: ProfileRequest, *, stored: StoredProfile | None = None
    ) -> Login | None:
        """The Test's login: given secrets, stored ones the rule lets it keep (400
        otherwise), references read now (:class:`SecretProblem` when they cannot be)."""
        if stored is None:
            with self._database.read() as connection:
                stored = load_profile(connection)
        plan = plan_secrets(request, stored.secrets)
        return self.logins.login(
            plan,
            password_token=stored.password_token,
            client_secret_token=stored.client_secret_token,
        )

    def build_plan(
        self,
        request: TestRequest,
        *,
        login: Login | None,
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
