"""Pure rules for single values: what a valid host, address, name or number is.

No I/O here. Every function either returns the normalised value or raises
:class:`~smtp_profile.errors.InvalidField` naming the field and the rule.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import urlsplit

import idna
from email_validator import EmailNotValidError
from email_validator.syntax import validate_email_local_part

from smtp_profile.errors import InvalidField

MAX_HOST_LENGTH = 253
MAX_NAME_LENGTH = 255
MAX_USERNAME_LENGTH = 256
MAX_PASSWORD_LENGTH = 1024
MAX_ADDRESS_LENGTH = 320

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_INTEGER = re.compile(r"^[+-]?[0-9]{1,10}$")
_LINE_SEPARATORS = {"\u2028", "\u2029", "\u0085"}


def has_control_character(value: str) -> bool:
    """True when ``value`` holds C0, DEL, C1 or a Unicode line/paragraph separator."""
    return any(ch in _LINE_SEPARATORS or unicodedata.category(ch) == "Cc" for ch in value)


def reject_control_characters(field: str, value: str) -> str:
    if has_control_character(value):
        raise InvalidField(
            field, "control", f"{field} must be a single line without control characters."
        )
    return value


def coerce_text(field: str, value: object) -> str | None:
    """A string field: ``None`` and ``""`` mean "not set"; other types are refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidField(field, "type", f"{field} must be a string.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(
            field, "format", f"{field} must be valid Unicode text (no lone surrogates)."
        ) from None
    return value or None


def coerce_int(field: str, value: object) -> int | None:
    """An integer from a JSON integer, an integral JSON number or a decimal string."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidField(field, "type", f"{field} must be an integer, not a boolean.")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.match(value):
        return int(value)
    raise InvalidField(field, "type", f"{field} must be an integer.")


def coerce_bool(field: str, value: object) -> bool | None:
    """A boolean from ``true``/``false`` or their strings in any letter case."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidField(field, "type", f"{field} must be true or false.")


def check_port(field: str, port: int) -> int:
    if not 1 <= port <= 65535:
        raise InvalidField(field, "range", f"{field} must be between 1 and 65535.")
    return port


def check_host(field: str, host: str) -> str:
    """A DNS name (FQDN or single label, IDN allowed) or an IP literal."""
    reject_control_characters(field, host)
    if len(host) > MAX_HOST_LENGTH:
        raise InvalidField(
            field, "length", f"{field} must be at most {MAX_HOST_LENGTH} characters."
        )
    if "://" in host:
        raise InvalidField(
            field, "format", f"{field} must be a host name without a scheme (no 'smtp://')."
        )
    if any(ch.isspace() for ch in host):
        raise InvalidField(field, "format", f"{field} must not contain spaces.")
    if "/" in host or "\\" in host:
        raise InvalidField(field, "format", f"{field} must be a host name without a path.")
    if _is_ip_literal(host):
        return host
    if ":" in host:
        raise InvalidField(field, "format", f"{field} must not include a port; set Port instead.")
    if not _is_dns_name(host):
        raise InvalidField(field, "format", f"{field} must be a DNS name or an IP address.")
    return host


def connect_address(host: str) -> str:
    """The name or address to connect to: an IPv6 literal loses its brackets."""
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(connect_address(host))
    except ValueError:
        return False
    return True


def _is_dns_name(host: str) -> bool:
    name = host[:-1] if host.endswith(".") else host
    if not name:
        return False
    try:
        ascii_name = name if name.isascii() else idna.encode(name, uts46=True).decode()
    except idna.IDNAError:
        return False
    labels = ascii_name.split(".")
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def check_address(field: str, address: str) -> str:
    """One bare mailbox (RFC 5321, internationalised allowed), no display name."""
    reject_control_characters(field, address)
    if len(address) > MAX_ADDRESS_LENGTH:
        raise InvalidField(
            field, "length", f"{field} must be at most {MAX_ADDRESS_LENGTH} characters."
        )
    if "<" in address or ">" in address:
        raise InvalidField(
            field,
            "format",
            f"{field} must be a bare e-mail address without a display name "
            "(put the name in SenderName).",
        )
    local, at, domain = address.rpartition("@")
    if not at:
        raise InvalidField(field, "format", f"{field} must be one e-mail address (user@domain).")
    try:
        validate_email_local_part(local, allow_smtputf8=True)
    except EmailNotValidError as exc:
        raise InvalidField(field, "format", f"{field} must be one e-mail address: {exc}") from None
    if domain.endswith(".") or not (_is_dns_name(domain) or _is_address_literal(domain)):
        raise InvalidField(
            field, "format", f"{field} must be one e-mail address: the domain is not valid."
        )
    return address


def _is_address_literal(domain: str) -> bool:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]`` (RFC 5321 address literals)."""
    if not (domain.startswith("[") and domain.endswith("]")):
        return False
    inner = domain[1:-1]
    if inner[:5].lower() == "ipv6:":
        inner = inner[5:]
    try:
        ipaddress.ip_address(inner)
    except ValueError:
        return False
    return True


def check_display_name(field: str, name: str) -> str:
    reject_control_characters(field, name)
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidField(
            field, "length", f"{field} must be at most {MAX_NAME_LENGTH} characters."
        )
    return name


def check_username(field: str, username: str) -> str:
    """``DOMAIN\\user``, ``user@domain`` or ``user``: one line, no spaces at the ends."""
    reject_control_characters(field, username)
    if len(username) > MAX_USERNAME_LENGTH:
        raise InvalidField(
            field, "length", f"{field} must be at most {MAX_USERNAME_LENGTH} characters."
        )
    if username != username.strip():
        raise InvalidField(field, "format", f"{field} must not start or end with a space.")
    return username


def check_password(field: str, password: str) -> str:
    """Any text that SASL can carry: no NUL, CR or LF (they would break AUTH PLAIN)."""
    if any(ch in password for ch in "\x00\r\n"):
        raise InvalidField(field, "control", f"{field} must not contain NUL, CR or LF characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidField(
            field, "length", f"{field} must be at most {MAX_PASSWORD_LENGTH} characters."
        )
    return password


MAX_ENDPOINT_LENGTH = 2048
MAX_OAUTH_TEXT_LENGTH = 1024


def check_text_line(field: str, value: str, *, max_length: int = MAX_OAUTH_TEXT_LENGTH) -> str:
    """One line of text without control characters, of at most ``max_length``."""
    reject_control_characters(field, value)
    if len(value) > max_length:
        raise InvalidField(field, "length", f"{field} must be at most {max_length} characters.")
    return value


def check_identifier(field: str, value: str) -> str:
    """A user name or client ID: one line, no spaces at the ends, at most 256 characters."""
    check_text_line(field, value, max_length=MAX_USERNAME_LENGTH)
    if value != value.strip():
        raise InvalidField(field, "format", f"{field} must not start or end with a space.")
    return value


def is_loopback_host(host: str) -> bool:
    """``localhost`` or a loopback IP literal (no name resolution)."""
    host = connect_address(host).rstrip(".").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_token_endpoint(field: str, url: str) -> str:
    """An absolute https URL (http only to this machine), no user info, no fragment."""
    check_text_line(field, url, max_length=MAX_ENDPOINT_LENGTH)
    if any(ch.isspace() for ch in url):
        raise InvalidField(field, "format", f"{field} must be a URL without spaces.")
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise InvalidField(field, "format", f"{field} has an invalid port.") from None
    host = parts.hostname or ""
    if parts.scheme.lower() not in ("https", "http") or not host:
        raise InvalidField(field, "format", f"{field} must be an absolute https:// URL.")
    if "@" in parts.netloc:
        raise InvalidField(field, "format", f"{field} must not contain a user name or password.")
    if parts.fragment:
        raise InvalidField(field, "format", f"{field} must not contain a #fragment.")
    if not (_is_ip_literal(host) or _is_dns_name(host)):
        raise InvalidField(field, "format", f"{field} must name a DNS host or an IP address.")
    if parts.scheme.lower() == "http" and not is_loopback_host(host):
        raise InvalidField(
            field,
            "format",
            f"{field} must use https (http only to this machine: localhost, 127.0.0.1 or ::1).",
        )
    return url


def endpoint_identity(url: str | None) -> str:
    """A token endpoint as compared for the stored-secret rule: scheme and host in lower
    case, the rest as given."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()).geturl()
