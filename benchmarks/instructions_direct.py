"""Instructions per request with no server: the app called directly, counted by callgrind.

    python -m benchmarks.instructions_direct [--requests 10000] [--json PATH]

The companion of benchmarks.instructions_asgi. There, each variant is served by uvicorn
and the count holds the server's work too, which moves by a few hundred instructions a
request between runs. Here each variant of benchmarks/asgi_targets.py is called in a
plain loop, in a process of its own under ``valgrind --tool=callgrind``: the scope is
a fresh dict, ``receive`` and the server's ``send`` are do-nothing coroutine functions,
and the app's coroutine is driven by hand, with no event loop. The process is run
twice, with 1,000 and with ``1,000 + --requests`` requests after 300 uncounted ones, and
the difference is divided by ``--requests``: start-up and imports cancel out, and what
is left is the requests alone, the same from run to run to a few instructions.

Needs ``valgrind`` (Debian package) on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import results as bench_results
from benchmarks.e2e_asgi import ROOT
from benchmarks.instructions_asgi import VARIANTS, WARM_UP, print_rows

__all__ = ["VARIANTS", "WARM_UP", "main"]
BASE = 1000


def child(variant: str, requests: int) -> None:
    """Call *variant* for WARM_UP + *requests* requests (run under callgrind)."""
    from benchmarks import asgi_targets

    app: Any = asgi_targets.build(variant)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        pass

    for _ in range(WARM_UP + requests):
        scope = {"type": "http", "path": "/", "method": "GET", "headers": [],
                 "query_string": b""}  # fmt: skip
        coroutine = app(scope, receive, send)
        try:
            coroutine.send(None)
        except StopIteration:
            pass
        else:  # pragma: no cover - the apps never wait
            raise RuntimeError(f"{variant} waited for something: it cannot be driven by hand")
    # What the receivers heard, for a check that the variant asked for is the one run.
    print(asgi_targets.counts["request_started"], asgi_targets.counts["request_finished"])


def count(variant: str, requests: int, scratch: Path) -> int:
    """User-space instructions of a process calling *variant* WARM_UP + *requests* times."""
    out = scratch / f"callgrind.{variant}.{requests}"
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}
    proc = subprocess.run(
        ["valgrind", "-q", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         "-m", "benchmarks.instructions_direct", "--child", variant, str(requests)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"{variant} failed under callgrind:\n{proc.stderr[-2000:]}")
    total = re.search(r"^(?:totals|summary): (\d+)", out.read_text(), re.MULTILINE)
    if total is None:
        raise RuntimeError(f"callgrind wrote no total for {variant} in {out}")
    return int(total.group(1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not on the PATH: apt-get install valgrind")
    per_request: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for variant in VARIANTS:
            few = count(variant, BASE, Path(scratch))
            many = count(variant, BASE + args.requests, Path(scratch))
            per_request[variant] = (many - few) / args.requests
    bare = per_request["bare"]
    print(f"called directly under callgrind, {args.requests} requests (after {WARM_UP} "
          "uncounted); user-space instructions per request")  # fmt: skip
    print()
    rows = print_rows(per_request)
    floor = per_request["floor"] - bare
    ours = per_request["reqsignals"] - bare
    response_duration = per_request["floor"] - per_request["floor_without_response_duration"]
    print()
    print(f"reqsignals' overhead / the floor's: {ours / floor:.2f}x; response_duration costs "
          f"the floor {response_duration:+,.0f} instructions a request")  # fmt: skip
    bench_results.write(
        args.json,
        "Instructions per request, called directly",
        rows,
        requests=args.requests,
        warm_up=WARM_UP,
        where="called directly",
    )


if __name__ == "__main__":
    main()
