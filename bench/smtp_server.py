"""The relays the Test figures talk to, in their own process (own event loop, own CPU time).

* ``plain``: aiosmtpd, no TLS, no AUTH (the test suite's ``tests/support/smtpd.py``);
* ``tls``: aiosmtpd offering STARTTLS and AUTH (PLAIN/LOGIN, only after STARTTLS), with a
  certificate for 127.0.0.1 issued by the benchmark's trustme CA;
* ``hung``: a TCP listener that accepts connections and never says anything.

Prints one JSON line with the three ports, then serves until standard input closes.

    python -m bench.smtp_server --cert CERT.pem --key KEY.pem --user bench:secret
"""

from __future__ import annotations

import argparse
import asyncio
import json
import ssl
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support.smtpd import start_smtpd  # noqa: E402


async def _hung_listener() -> tuple[asyncio.Server, list[asyncio.StreamWriter]]:
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        try:
            while await reader.read(4096):  # never answer; wait for the client to give up
                pass
        except OSError:
            pass
        finally:
            held.remove(writer)
            writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0, backlog=1024)
    return server, held


async def serve(cert: Path, key: Path, users: dict[str, str]) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    plain = await start_smtpd()
    tls = await start_smtpd(starttls_context=context, users=users, auth_require_tls=True)
    hung, _held = await _hung_listener()
    ports = {"plain": plain.port, "tls": tls.port, "hung": hung.sockets[0].getsockname()[1]}
    print(json.dumps(ports), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    hung.close()
    await plain.stop()
    await tls.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cert", type=Path, required=True)
    parser.add_argument("--key", type=Path, required=True)
    parser.add_argument("--user", action="append", default=[], help="name:password")
    options = parser.parse_args()
    users = dict(item.split(":", 1) for item in options.user)
    asyncio.run(serve(options.cert, options.key, users))


if __name__ == "__main__":
    main()
