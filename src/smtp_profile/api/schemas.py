"""Models that document the wire format in the OpenAPI document.

Validation itself is done by :mod:`smtp_profile.profile` (the rules are richer
than a schema: case-insensitive names, form bodies, the stored-password rule).
A test checks that these models name exactly the fields the parser reads.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Int = int | str | None
Bool = bool | str | None


class ProfileIn(BaseModel):
    """PUT body. Property names match in any letter case; unknown ones are ignored."""

    model_config = ConfigDict(extra="allow")

    Id: Int = Field(None, description="Must be 1 when given.")
    Host: str = Field(
        description="DNS name or IP literal; no scheme, path or port.", max_length=253
    )
    Port: Int = Field(None, description="1-65535; default 25.")
    RelayAuthenticationType: Int = Field(
        None, description="0 anonymous, 1 integrated, 2 explicit credentials; default 0."
    )
    RelayUsername: str | None = Field(None, description="Required for type 2.")
    RelayPassword: str | None = Field(
        None,
        description="Write-only. Required for type 2 unless a stored password may be kept "
        "(Host, Port and RelayUsername unchanged).",
    )
    SenderAccount: str = Field(description="One bare e-mail address.")
    SenderName: str = Field(description="Display name in From.", max_length=255)
    UseSSL: Bool = Field(None, description="TLS: implicit on 465, else STARTTLS (required).")


class TestIn(ProfileIn):
    """Test body: the settings to test (not stored) and one recipient address."""

    TestRecipient: str = Field(description="One bare e-mail address.")


class EchoV1(BaseModel):
    """The profile's fields as version 1 shows them (shared by GET/PUT and Test)."""

    Id: int
    Host: str | None
    Port: int
    RelayAuthenticationType: int
    RelayUsername: str | None
    SenderAccount: str | None
    SenderName: str | None
    UseSSL: bool


class ProfileOut(EchoV1):
    HasPassword: bool = Field(description="Whether a relay password is stored (never the value).")


class SecretOut(BaseModel):
    """API version 2: a secret as shown, never its value; null when none is configured."""

    SecretValue: None = Field(None, description="Never returned.")
    Provider: int | str | None = Field(
        description="1 environment, 2 file, 3 command; null: stored."
    )
    Parameters: dict[str, str] | None


class EchoV2(BaseModel):
    """The profile's fields as version 2 shows them (X-Keyfactor-Api-Version: 2)."""

    Id: int
    Host: str | None
    Port: int
    RelayAuthenticationType: int = Field(description="0-2 as in version 1, 3 OAuth 2.0.")
    RelayUsername: SecretOut | None
    RelayPassword: SecretOut | None
    ClientId: SecretOut | None
    ClientSecret: SecretOut | None
    TokenEndpoint: str | None
    Scope: str | None
    Audience: str | None
    SenderAccount: str | None
    SenderName: str | None
    UseSSL: bool


class ProfileOutV2(EchoV2):
    HasPassword: bool = Field(description="Whether a password is stored or referenced.")


class TlsOut(BaseModel):
    Version: str | None
    Cipher: str | None
    Verified: bool
    Subject: str | None
    Issuer: str | None
    NotAfter: str | None
    VerifyError: str | None


class Diagnosis(BaseModel):
    Success: bool
    Stage: str = Field(description="Last step reached, or the step that failed.")
    Failure: str | None = Field(description="Failure class (see the README's troubleshooting).")
    SmtpCode: int | None
    SmtpMessage: str | None
    Hint: str | None = Field(description="Likely cause and the setting to change.")
    Transcript: list[str] = Field(description="Timestamped, redacted conversation.")
    DurationMs: int
    Tls: TlsOut | None
    ConnectedAddress: str | None
    StoppedAfter: str | None


class TestOut(Diagnosis, EchoV1):
    TestRecipient: str


class TestOutV2(Diagnosis, EchoV2):
    TestRecipient: str


class ErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    ErrorCode: str = Field(pattern=r"^0xA0[0-9A-F]{6}$")
    Message: str


class TestErrorOut(Diagnosis):
    ErrorCode: str = Field(pattern=r"^0xA0[0-9A-F]{6}$")
    Message: str


SECRET_IN: dict[str, Any] = {
    "description": "API version 2 secret: the value, or a reference the operator allows "
    "(Provider 1 environment variable {Name}, 2 file {Path}, 3 command {Name}). A string "
    "is short for {SecretValue: string}. Left out: a stored one may be kept (spec §5). "
    "Form bodies write members with dots: RelayPassword.Provider=2.",
    "anyOf": [
        {"type": "string"},
        {"type": "null"},
        {
            "type": "object",
            "properties": {
                "SecretValue": {"type": ["string", "null"]},
                "Provider": {"type": ["integer", "string", "null"]},
                "Parameters": {
                    "type": ["object", "null"],
                    "additionalProperties": {"type": "string"},
                },
            },
        },
    ],
}
_V2_TEXT = {"type": ["string", "null"]}


def version_2(schema: dict[str, Any]) -> dict[str, Any]:
    """The version 2 form of a version 1 body schema: secret objects and OAuth fields."""
    properties = dict(schema["properties"])
    for name in ("RelayUsername", "RelayPassword", "ClientId", "ClientSecret"):
        properties[name] = SECRET_IN
    properties["RelayAuthenticationType"] = {
        "anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}],
        "description": "0 anonymous, 1 integrated, 2 explicit, 3 OAuth 2.0 client credentials.",
    }
    properties["TokenEndpoint"] = {
        **_V2_TEXT,
        "description": "Type 3: the OAuth 2.0 token URL (https; http only to loopback).",
    }
    properties["Scope"] = {**_V2_TEXT, "description": "Type 3: the scope requested."}
    properties["Audience"] = {**_V2_TEXT, "description": "Type 3: the audience, if needed."}
    return {**schema, "title": f"{schema.get('title', 'Body')}V2", "properties": properties}


def request_body(model: type[BaseModel], *, form: bool) -> dict[str, Any]:
    """Version 1 (default) or version 2 (``X-Keyfactor-Api-Version: 2``) bodies."""
    schema = model.model_json_schema()
    either = {"anyOf": [schema, version_2(schema)]}
    content: dict[str, Any] = {"application/json": {"schema": either}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": either}
    return {"requestBody": {"required": True, "content": content}}


class AuditChange(BaseModel):
    Field: str
    Before: Any
    After: Any


class AuditItem(BaseModel):
    Id: int
    Time: str
    User: str | None
    ClientAddress: str | None
    Operation: str
    Outcome: str
    Changes: list[AuditChange] | None
    Detail: str | None


class AuditPage(BaseModel):
    Items: list[AuditItem]
    Total: int
    Page: int
    PageSize: int


def audit_parameters() -> list[dict[str, Any]]:
    def query(name: str, schema: dict[str, Any], text: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": text,
        }

    return [
        {
            "name": "X-Keyfactor-Requested-With",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "example": "APIClient"},
        },
        query("Page", {"type": "integer", "minimum": 1}, "Page number, from 1."),
        query("PageSize", {"type": "integer", "minimum": 1, "maximum": 500}, "Records per page."),
        query("From", {"type": "string", "format": "date-time"}, "Only records at or after."),
        query("To", {"type": "string", "format": "date-time"}, "Only records before."),
        query("User", {"type": "string"}, "Only this user."),
        query("Operation", {"type": "string"}, "put, test, denied, keys.rotate, import"),
    ]
