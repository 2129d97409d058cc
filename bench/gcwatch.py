"""``smtp-profile serve`` with its garbage collections recorded (a diagnostic wrapper).

Runs the real ``serve`` command, and every 0.2 s writes to OUT (JSON) how long each
collection of each generation took. With ``--freeze`` it calls ``gc.collect()`` and
``gc.freeze()`` just before uvicorn starts, i.e. after the app is built: the change that
``bench.profile gc`` evaluates.

    python -m bench.gcwatch OUT.json --port 8080 [--freeze]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import threading
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--port", required=True)
    parser.add_argument("--freeze", action="store_true")
    options = parser.parse_args()

    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started = [0.0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses[info["generation"]].append((time.perf_counter() - started[0]) * 1000)

    gc.callbacks.append(on_gc)

    import uvicorn

    run = uvicorn.run

    def run_frozen(app: Any, **kwargs: Any) -> None:
        if options.freeze:
            gc.collect()
            gc.freeze()
        run(app, **kwargs)

    uvicorn.run = run_frozen

    def report() -> None:
        while True:
            time.sleep(0.2)
            document = {
                "frozen": gc.get_freeze_count(),
                "pauses_ms": {str(g): [round(p, 2) for p in pauses[g]] for g in pauses},
            }
            options.out.write_text(json.dumps(document))

    threading.Thread(target=report, daemon=True).start()

    from smtp_profile.cli import main as cli

    sys.argv = ["smtp-profile", "serve", "--host", "127.0.0.1", "--port", options.port]
    cli()


if __name__ == "__main__":
    main()
