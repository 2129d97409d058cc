"""Reaching the relay: resolve its name, then connect to the first address that
answers and that the egress policy allows."""

from __future__ import annotations

import asyncio
import socket

from smtp_profile.mail.diagnosis import Failure, Stage
from smtp_profile.mail.failures import StepFailed, connect_failure
from smtp_profile.mail.plan import SendPlan
from smtp_profile.mail.transcript import Transcript
from smtp_profile.resolving import HostNotFound, Resolver, lookup, system_resolver
from smtp_profile.rules import connect_address

__all__ = ["Resolver", "connect", "resolve", "system_resolver"]


async def resolve(plan: SendPlan, resolver: Resolver, transcript: Transcript) -> list[str]:
    """The addresses to try; an IP literal is used as it is, never resolved."""
    try:
        addresses = await lookup(plan.host, plan.port, resolver)
    except HostNotFound as exc:
        raise StepFailed(Stage.RESOLVE, Failure.UNKNOWN_HOST, exc.detail) from None
    if addresses != [connect_address(plan.host)]:
        transcript.note(f"{connect_address(plan.host)} resolves to {', '.join(addresses)}")
    return addresses


async def connect(
    plan: SendPlan, addresses: list[str], transcript: Transcript
) -> tuple[socket.socket, str]:
    """A connected socket and the address it reached; the policy is checked on that
    very address, so a name that resolves elsewhere later changes nothing."""
    loop = asyncio.get_running_loop()
    failure: StepFailed | None = None
    for address in addresses:
        refusal = plan.egress.refusal(address, plan.port)
        if refusal is not None:
            failure = StepFailed(
                Stage.CONNECT, Failure.EGRESS_DENIED, f"not connecting: {refusal} (egress policy)"
            )
            transcript.note(failure.detail)
            continue
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(plan.timeouts.connect):
                await loop.sock_connect(sock, (address, plan.port))
        except (OSError, TimeoutError) as exc:
            sock.close()
            failure = connect_failure(address, plan.port, exc)
            transcript.note(failure.detail)
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transcript.note(f"connected to {address} port {plan.port}")
        return sock, address
    if failure is None:
        raise StepFailed(Stage.CONNECT, Failure.UNREACHABLE, "no address to connect to")
    raise failure
