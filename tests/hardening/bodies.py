"""Hypothesis strategies for PUT and Test requests that get past the first check.

Schemathesis draws bodies from the document, where Host, SenderAccount and the rest are
just strings: nearly every one is refused by the first rule. These start from a valid
profile and break zero to three things in it (a field's value, its name's letter case, a
duplicate in another case, the encoding, the content type), so a good share reaches the
store, the stored-password rule and the sender.

Every Host is harmless by construction: IP literals on 127.0.0.0/8 go to the refusing
port or the sink, other IP literals are refused by the egress policy before any connect,
and names go to a resolver that answers "no such name".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from hypothesis import strategies as st

PASSWORD_MARK = "pw-hardening-"
JSON_TYPES = ("application/json", "application/json; charset=utf-8", "text/json")
OTHER_JSON_TYPES = ("application/vnd.keyfactor+json", "APPLICATION/JSON")
FORM_TYPE = "application/x-www-form-urlencoded"
BAD_TYPES = ("text/plain", "application/xml", "multipart/form-data; boundary=x", "")


@dataclass(frozen=True)
class Ports:
    refused: int
    sink: int


@dataclass
class Request:
    """One request: what is sent, and the body the server should have understood."""

    content: bytes
    content_type: str | None
    fields: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)

    @property
    def password(self) -> str | None:
        for name, value in self.fields.items():
            if name.casefold() == "relaypassword" and isinstance(value, str):
                return value
        return None


CONTROL = st.sampled_from(["\r", "\n", "\r\n", "\x00", "\x7f", "\x85", "\u2028", "\u2029", "\t"])
ODD_TEXT = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "null", "0", "-1", "1e3", "\ud800", "x\udfff"]),
    st.builds(lambda a, c, b: f"{a}{c}{b}", st.text(max_size=8), CONTROL, st.text(max_size=8)),
    st.integers(0, 3).map(lambda n: "x" * (250 + n)),
    st.integers(1, 3).map(lambda n: "é" * (254 * n)),
)
ODD_VALUE = st.one_of(
    ODD_TEXT,
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
NAME_HOSTS = st.sampled_from(
    [
        "relay.example.test",
        "smtp.example.com",
        "localhost",
        "mail",
        "xn--bcher-kva.example.test",
        "bücher.example.test",
        "relay.example.test.",
    ]
)
DENIED_IPS = st.sampled_from(
    ["192.0.2.25", "10.1.2.3", "169.254.169.254", "0.0.0.0", "::1", "[2001:db8::25]", "[fe80::1]"]
)
LOOPBACKS = st.sampled_from(["127.0.0.1", "127.0.0.1", "127.1.2.3", "::ffff:127.0.0.1"])
ADDRESSES = st.sampled_from(
    [
        "alerts@example.test",
        "no-reply@sub.example.test",
        "ops+smtp@example.test",
        "用户@例子.测试",
        "alerts@example.test.",
    ]
)
BAD_ADDRESSES = st.sampled_from(
    [
        "alerts",
        "Alerts <alerts@example.test>",
        "a@b@c",
        "alerts@example.test\r\nBcc: victim@example.test",
        "@example.test",
        "alerts@",
        "alerts@exa mple.test",
        "alerts@example.test, other@example.test",
    ]
)
NAMES = st.one_of(
    st.sampled_from(["Certificate Alerts", "Zertifikats-Warnungen äöü", "証明書", '"Quoted" Name']),
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
    ).filter(lambda s: s.strip()),
)
USERS = st.sampled_from(["svc", "CORP\\svc-mail", "svc@example.test", "relay-user"])
BAD_USERS = st.sampled_from(["", "a b", "svc\r\n", "CORP\\", "x" * 300, "svc\x00"])
BOOLS = st.sampled_from([True, False, "true", "false", "TRUE", "False", None])
BAD_BOOLS = st.sampled_from(["yes", "1", 1, 0, "", "truee", [], {}])
QUIT_AFTER = st.sampled_from(["connect", "tls", "auth", "rcpt", "RCPT", "", "nonsense", "data"])


def _password() -> st.SearchStrategy[str]:
    """A password with a marker that no response may ever contain."""
    return st.text("0123456789abcdef", min_size=10, max_size=10).map(PASSWORD_MARK.__add__)


@st.composite
def valid_fields(draw: st.DrawFn, ports: Ports, *, test: bool) -> dict[str, Any]:
    """A profile the rules accept; its destination is harmless. For a Test, half of them
    can be delivered: anonymous, no TLS, to the sink."""
    if test and draw(st.booleans()):
        fields: dict[str, Any] = {
            "Host": draw(LOOPBACKS),
            "Port": draw(st.sampled_from([ports.sink, str(ports.sink)])),
            "SenderAccount": draw(ADDRESSES),
            "SenderName": draw(NAMES),
            "UseSSL": draw(st.sampled_from([False, "false", None])),
            "RelayAuthenticationType": draw(st.sampled_from([0, "0", None])),
            "TestRecipient": draw(ADDRESSES),
        }
        return fields
    where = draw(st.sampled_from(["loopback", "loopback", "name", "denied"]))
    if where == "loopback":
        host = draw(LOOPBACKS)
        port: Any = draw(st.sampled_from([ports.refused, ports.sink]))
    else:
        host = draw(NAME_HOSTS if where == "name" else DENIED_IPS)
        port = draw(st.sampled_from([25, 465, 587, 2525, ports.sink]))
    fields = {
        "Host": host,
        "Port": draw(st.sampled_from([port, str(port)])),
        "SenderAccount": draw(ADDRESSES),
        "SenderName": draw(NAMES),
        "UseSSL": draw(st.sampled_from([False, False, True, "false", None])),
    }
    auth = draw(st.sampled_from([0, 0, 1, 2, 2, "2", None]))
    if auth is not None:
        fields["RelayAuthenticationType"] = auth
    if str(auth) == "2":
        fields["RelayUsername"] = draw(USERS)
        if draw(st.booleans()):
            fields["RelayPassword"] = draw(_password())
    if draw(st.booleans()):
        fields["Id"] = draw(st.sampled_from([1, "1"]))
    if test:
        fields["TestRecipient"] = draw(ADDRESSES)
    return fields


_FIELD_BREAKERS: dict[str, st.SearchStrategy[Any]] = {
    "Id": st.one_of(st.sampled_from([0, 2, "2", -1, "01", 1.5, True]), ODD_VALUE),
    "Host": st.one_of(
        st.sampled_from(
            [
                "smtp://relay.example.test",
                "relay.example.test:25",
                "relay.example.test/path",
                "relay example",
                "-relay.example.test",
                "relay..example.test",
                "[127.0.0.1]",
                "127.0.0.1:25",
                "256.1.1.1",
                "a" * 64 + ".example.test",
                ("a" * 63 + ".") * 4 + "a",
            ]
        ),
        ODD_TEXT,
        ODD_VALUE,
    ),
    "Port": st.one_of(
        st.sampled_from(
            [0, 65536, -1, "0", " 25", "25 ", "2.5e1", "0x19", 25.0, 25.5, True, "", "١٢"]
        ),
        st.integers(-(2**40), 2**40),
        ODD_VALUE,
    ),
    "RelayAuthenticationType": st.one_of(
        st.sampled_from([3, -1, "3", 2.0, True, "", "two"]), ODD_VALUE
    ),
    "RelayUsername": st.one_of(BAD_USERS, ODD_VALUE),
    "RelayPassword": st.one_of(st.sampled_from(["", " "]), ODD_VALUE, _password()),
    "SenderAccount": st.one_of(BAD_ADDRESSES, ODD_TEXT, ODD_VALUE),
    "SenderName": st.one_of(
        st.builds(lambda c: f"Alerts{c}Bcc: x@example.test", CONTROL),
        st.just("n" * 256),
        ODD_TEXT,
        ODD_VALUE,
    ),
    "UseSSL": st.one_of(BAD_BOOLS, ODD_VALUE),
    "TestRecipient": st.one_of(BAD_ADDRESSES, ODD_TEXT, ODD_VALUE),
}


def _recase(name: str, style: int) -> str:
    return [name, name.lower(), name.upper(), name.swapcase()][style % 4]


@st.composite
def broken_fields(draw: st.DrawFn, ports: Ports, *, test: bool) -> list[tuple[str, Any]]:
    """A valid profile with zero to three things broken, as ordered (name, value) pairs."""
    fields = draw(valid_fields(ports, test=test))
    names = [n for n in _FIELD_BREAKERS if test or n != "TestRecipient"]
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["value", "value", "value", "drop", "null", "empty"]))
        name = draw(st.sampled_from(names))
        if how == "value":
            fields[name] = draw(_FIELD_BREAKERS[name])
        elif how == "drop":
            fields.pop(name, None)
        elif how == "null":
            fields[name] = None
        else:
            fields[name] = ""
    pairs = [(_recase(n, draw(st.integers(0, 7))), v) for n, v in fields.items()]
    if draw(st.integers(0, 9)) == 0:
        pairs.append((draw(st.text(max_size=10)), draw(ODD_VALUE)))  # unknown property
    if pairs and draw(st.integers(0, 14)) == 0:
        name, value = draw(st.sampled_from(pairs))
        pairs.append((_recase(name, draw(st.integers(1, 3))), value))  # duplicate
    return pairs


def _form_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _encode_json(pairs: list[tuple[str, Any]]) -> bytes:
    members = ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs)
    return ("{" + members + "}").encode()


@st.composite
def requests(draw: st.DrawFn, ports: Ports, *, test: bool) -> Request:
    pairs = draw(broken_fields(ports, test=test))
    fields = dict(pairs)
    encoding = draw(
        st.sampled_from(["json"] * 6 + ["form"] * 3 + ["other-json", "raw", "bad-type"])
    )
    if encoding == "json":
        request = Request(_encode_json(pairs), draw(st.sampled_from(JSON_TYPES)), fields)
    elif encoding == "other-json":
        request = Request(_encode_json(pairs), draw(st.sampled_from(OTHER_JSON_TYPES)), fields)
    elif encoding == "form":
        text = urlencode([(k, _form_value(v)) for k, v in pairs], errors="surrogatepass")
        request = Request(text.encode(), FORM_TYPE, fields)
    elif encoding == "raw":
        raw = draw(
            st.one_of(
                st.binary(max_size=40),
                st.sampled_from(
                    [b"", b"[]", b"null", b"1", b'"x"', b"{", b'{"Host":}', b"\xff\xfe{}"]
                ),
                st.just(_encode_json(pairs)[:-1]),
            )
        )
        request = Request(raw, draw(st.sampled_from([*JSON_TYPES, FORM_TYPE])), {})
    else:
        request = Request(_encode_json(pairs), draw(st.sampled_from(BAD_TYPES)) or None, fields)
    if test and draw(st.integers(0, 3)) == 0:
        request.query[draw(st.sampled_from(["QuitAfter", "quitafter"]))] = draw(QUIT_AFTER)
    return request
