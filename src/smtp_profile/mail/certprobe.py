"""Fetch a relay's certificate without trusting it, to describe a failed verification.

When the verified handshake fails, the diagnosis should still say whose
certificate it was (subject, issuer, expiry). A second, unverified handshake
reads it; nothing else is sent (no EHLO beyond what STARTTLS needs, no AUTH).
"""

from __future__ import annotations

import asyncio
import ssl

_UNVERIFIED = ssl.create_default_context()
_UNVERIFIED.check_hostname = False
_UNVERIFIED.verify_mode = ssl.CERT_NONE
_MAX_LINES = 100


async def fetch_certificate(
    *,
    address: str,
    port: int,
    server_hostname: str,
    starttls: bool,
    helo_name: str,
    within: float,
) -> bytes | None:
    """The server's leaf certificate (DER), or ``None`` if it cannot be read in time."""
    try:
        async with asyncio.timeout(within):
            return await _fetch(address, port, server_hostname, starttls, helo_name)
    except (OSError, TimeoutError, ValueError, EOFError):
        return None


async def _fetch(
    address: str, port: int, server_hostname: str, starttls: bool, helo_name: str
) -> bytes | None:
    if not starttls:
        reader, writer = await asyncio.open_connection(
            address, port, ssl=_UNVERIFIED, server_hostname=server_hostname
        )
    else:
        reader, writer = await asyncio.open_connection(address, port)
    try:
        if starttls:
            await _reply(reader)
            writer.write(f"EHLO {helo_name}\r\n".encode("ascii"))
            await _reply(reader)
            writer.write(b"STARTTLS\r\n")
            if not (await _reply(reader)).startswith(b"220"):
                return None
            await writer.start_tls(_UNVERIFIED, server_hostname=server_hostname)
        ssl_object = writer.get_extra_info("ssl_object")
        return ssl_object.getpeercert(binary_form=True) if ssl_object else None
    finally:
        writer.close()


async def _reply(reader: asyncio.StreamReader) -> bytes:
    """One (possibly multi-line) SMTP reply; its last line."""
    for _ in range(_MAX_LINES):
        line = await reader.readline()
        if not line:
            raise EOFError
        if line[3:4] != b"-":
            return line
    raise ValueError("reply too long")
