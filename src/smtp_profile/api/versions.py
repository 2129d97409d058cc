"""What differs between API versions 1 and 2 on the wire: the fields a body may carry,
how it is parsed, and how a profile or a Test echo is shown. Everything else (headers,
errors, ETags, the audit) is the same."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from smtp_profile.api.results import echo_v1
from smtp_profile.profile import (
    PROFILE_FIELDS,
    TEST_FIELDS,
    ProfileRequest,
    TestRequest,
    parse_profile_request,
    parse_test_request,
)
from smtp_profile.profile_v2 import (
    PROFILE_FIELDS_V2,
    TEST_FIELDS_V2,
    parse_profile_request_v2,
    parse_test_request_v2,
    request_view_v2,
)
from smtp_profile.wire import decode_body


@dataclass(frozen=True, slots=True)
class WireVersion:
    number: int
    profile_fields: tuple[str, ...]
    test_fields: tuple[str, ...]
    parse_profile: Callable[[Mapping[str, object]], ProfileRequest]
    parse_test: Callable[[Mapping[str, object]], TestRequest]
    echo: Callable[[ProfileRequest], dict[str, Any]]

    def profile_request(self, content_type: str | None, body: bytes) -> ProfileRequest:
        return self.parse_profile(self._decode(content_type, body, self.profile_fields))

    def test_request(self, content_type: str | None, body: bytes) -> TestRequest:
        return self.parse_test(self._decode(content_type, body, self.test_fields))

    def _decode(
        self, content_type: str | None, body: bytes, known: tuple[str, ...]
    ) -> dict[str, object]:
        # Version 2 forms write nested members with dots: RelayPassword.SecretValue=...
        return decode_body(content_type, body, known=known, nested=self.number >= 2)


VERSIONS: dict[int, WireVersion] = {
    1: WireVersion(
        1, PROFILE_FIELDS, TEST_FIELDS, parse_profile_request, parse_test_request, echo_v1
    ),
    2: WireVersion(
        2,
        PROFILE_FIELDS_V2,
        TEST_FIELDS_V2,
        parse_profile_request_v2,
        parse_test_request_v2,
        request_view_v2,
    ),
}
