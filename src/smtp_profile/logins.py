"""From a planned profile to the login a Test uses: stored secrets decrypted, references
resolved, the OAuth grant with its token broker. Reads files, runs commands and decrypts,
so the service calls it off the event loop.
"""

from __future__ import annotations

from smtp_profile import rules
from smtp_profile.crypto import SecretBox
from smtp_profile.errors import InvalidField
from smtp_profile.mail.diagnosis import Failure
from smtp_profile.mail.integrated import ServiceIdentity
from smtp_profile.mail.plan import Credentials, Integrated, Login, OAuthLogin, TlsPolicy
from smtp_profile.mail.reach import Resolver
from smtp_profile.oauth.cache import TokenCache
from smtp_profile.oauth.client import TokenBroker, TokenEndpointAccess
from smtp_profile.oauth.grant import ClientCredentials
from smtp_profile.profile_model import AuthType, ProfileRequest
from smtp_profile.secret import Secret
from smtp_profile.secret_plan import SecretPlan
from smtp_profile.secret_policy import SecretProblem
from smtp_profile.secret_sources import resolve
from smtp_profile.secretref import SecretRef
from smtp_profile.settings import Settings

SECRET_FIELDS = ("RelayUsername", "RelayPassword", "ClientId", "ClientSecret")


class Logins:
    def __init__(
        self, *, box: SecretBox, settings: Settings, resolver: Resolver, tokens: TokenCache
    ) -> None:
        self._box, self._settings, self._resolver = box, settings, resolver
        self.tokens = tokens

    def check_references(self, request: ProfileRequest) -> None:
        """Every reference a PUT gives must be allowed and readable now (400 otherwise);
        what it reads is dropped at once."""
        settings = request.settings
        refs = (
            settings.username_ref,
            settings.password_ref,
            settings.client_id_ref,
            settings.client_secret_ref,
        )
        for field, ref in zip(SECRET_FIELDS, refs, strict=True):
            if ref is not None:
                try:
                    self._read(field, ref)
                except SecretProblem as problem:
                    raise problem.invalid_field() from None

    def login(
        self,
        plan: SecretPlan,
        *,
        password_token: bytes | None,
        client_secret_token: bytes | None,
    ) -> Login | None:
        """The login of ``plan``; raises :class:`SecretProblem` for a reference."""
        s = plan.settings
        if s.auth_type is AuthType.ANONYMOUS:
            return None
        if s.auth_type is AuthType.INTEGRATED:
            return Integrated(identity=ServiceIdentity.from_settings(self._settings))
        username = self._identifier("RelayUsername", s.username, s.username_ref)
        if s.auth_type is AuthType.EXPLICIT:
            assert username is not None
            password = self._secret(
                "RelayPassword",
                plan.password,
                password_token if plan.keep_password else None,
                s.password_ref,
            )
            return Credentials(username=username, password=password)
        client_id = self._identifier("ClientId", s.client_id, s.client_id_ref)
        assert client_id is not None and s.token_endpoint is not None and s.sender_account
        client_secret = self._secret(
            "ClientSecret",
            plan.client_secret,
            client_secret_token if plan.keep_client_secret else None,
            s.client_secret_ref,
        )
        grant = ClientCredentials(
            token_endpoint=s.token_endpoint,
            client_id=client_id,
            client_secret=client_secret,
            scope=s.scope,
            audience=s.audience,
        )
        return OAuthLogin(user=username or s.sender_account, grant=grant, tokens=self._broker())

    def _broker(self) -> TokenBroker:
        config = self._settings
        access = TokenEndpointAccess(
            egress=config.egress_policy,
            tls=TlsPolicy(verify=config.tls_verify, ca_file=config.ca_file),
            resolver=self._resolver,
            connect_timeout=config.connect_timeout,
            timeout=config.command_timeout,
        )
        return TokenBroker(self.tokens, access)

    def _identifier(self, field: str, value: str | None, ref: SecretRef | None) -> str | None:
        if ref is None:
            return value
        text = self._read(field, ref).reveal()
        try:
            return rules.check_identifier(field, text)
        except InvalidField:
            raise self._unusable(field, ref, "a user name or ID on one line") from None

    def _secret(
        self, field: str, given: Secret | None, token: bytes | None, ref: SecretRef | None
    ) -> Secret:
        if given is not None:
            return given
        if token is not None:
            return self._box.decrypt(token)
        assert ref is not None, f"the plan keeps no {field}"
        secret = self._read(field, ref)
        try:
            rules.check_password(field, secret.reveal())
        except InvalidField:
            raise self._unusable(field, ref, "text without NUL, CR or LF") from None
        return secret

    def _read(self, field: str, ref: SecretRef) -> Secret:
        return resolve(field, ref, self._settings.secret_policy)

    @staticmethod
    def _unusable(field: str, ref: SecretRef, wanted: str) -> SecretProblem:
        return SecretProblem(
            field,
            Failure.SECRET_UNUSABLE,
            "unresolvable",
            f"{field}: what {ref.describe()} holds is not {wanted} (or is too long).",
        )
