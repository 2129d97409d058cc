"""The profile as clients see it: one revision, its ETag, and its view in each API
version. No I/O."""

from __future__ import annotations

from dataclasses import dataclass

from smtp_profile.profile import AuthType, ProfileSettings, profile_view
from smtp_profile.profile_v2 import profile_view_v2
from smtp_profile.store.profiles import StoredProfile


@dataclass(frozen=True, slots=True)
class ProfileSnapshot:
    """The profile as clients see it, with the version that makes its ETag."""

    settings: ProfileSettings
    has_password: bool  # a stored password value (version 2 shows references besides)
    revision: int
    has_client_secret: bool = False

    @property
    def etag(self) -> str:
        """One tag per revision, whatever the API version that shows it."""
        return f'"r{self.revision}"'

    @property
    def minimum_version(self) -> int:
        """1, unless only version 2 shows the profile completely (OAuth, references)."""
        s = self.settings
        refs = (s.username_ref, s.password_ref, s.client_id_ref, s.client_secret_ref)
        return 2 if s.auth_type is AuthType.OAUTH or any(refs) else 1

    def view(self, version: int = 1) -> dict[str, object]:
        if version >= 2:
            return profile_view_v2(
                self.settings,
                has_password=self.has_password,
                has_client_secret=self.has_client_secret,
            )
        referenced = self.settings.password_ref is not None
        return profile_view(self.settings, has_password=self.has_password or referenced)


def snapshot_of(stored: StoredProfile) -> ProfileSnapshot:
    return ProfileSnapshot(
        settings=stored.settings,
        has_password=stored.has_password,
        revision=stored.revision,
        has_client_secret=stored.has_client_secret,
    )


def etag_matches(if_match: str, etag: str) -> bool:
    """RFC 9110 If-Match: ``*`` or any listed (strong) tag."""
    tags = [tag.strip() for tag in if_match.split(",")]
    return "*" in tags or etag in tags
