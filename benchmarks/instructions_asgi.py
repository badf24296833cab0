"""Instructions per request inside uvicorn, counted by valgrind's callgrind.

    python -m benchmarks.instructions_asgi [--requests 2000] [--seeds 0,1,2] [--json PATH]

The throughput benchmark (benchmarks.e2e_asgi) times requests, and on a shared machine
two servers of the same app differ by a percent or two from round to round: as much as
the difference being measured. Instruction counts agree from run to run to about 0.3%
of a request (the hash seed is fixed). Each variant of benchmarks/asgi_targets.py is
served by uvicorn under ``valgrind --tool=callgrind`` with counting switched off;
after 300 warm-up requests it is switched on for ``--requests`` more, sent one after
the other on one keep-alive connection, and the count is read. Only the server's own
user-space instructions are counted: the kernel's share of each request (the socket
reads and writes) is not, and neither is how long an instruction takes, so the counts
rank the variants but do not convert to time. uvicorn's housekeeping, ten times a
second, is counted too: a small share that grows with how long the slowed-down server
takes.

One hash seed lays out one process's dicts and CPython's type-attribute cache one way,
and a layout can be lucky or unlucky for a variant by a thousand instructions a request
(two names that meet in one slot of that cache and evict each other on every request).
So every variant is counted once under each of ``--seeds`` and each variant's median is
reported; the target, reqsignals' overhead at most 1.2 times the floor's, is judged on the
median of the per-seed ratios.

Needs ``valgrind`` (Debian package) on the PATH.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import results as bench_results
from benchmarks.asgi_targets import HELLO
from benchmarks.e2e_asgi import stop_servers_on_sigterm, uvicorn

VARIANTS = {
    "bare": "bare app",
    "receivers": "(reference) the 2 receiver calls alone",
    "floor_without_response_duration": "(reference) the floor without response_duration",
    "floor": "(reference) the least a middleware can do",
    "reqsignals": "reqsignals, 1 receiver each",
}
WARM_UP = 300
#: reqsignals' overhead may be at most this many times the floor's.
RATIO_LIMIT = 1.2
REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def get(sock: socket.socket, count: int) -> None:
    """Send *count* requests on *sock*, one at a time, each read to the end of its body."""
    for _ in range(count):
        sock.sendall(REQUEST)
        answer = b""
        while not answer.endswith(HELLO):
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"the server closed the connection after {answer!r}")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(f"unexpected answer: {answer!r}")


def callgrind_control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=60)


def count(variant: str, requests: int, scratch: Path, seed: int = 0) -> int:
    """User-space instructions uvicorn spends on *requests* requests to *variant*."""
    out = scratch / f"callgrind.{variant}.seed{seed}"
    under = ("valgrind", "-q", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}")  # fmt: skip
    # A fixed hash seed, so that each run lays out its dicts and sets the same way.
    seeded = {"PYTHONHASHSEED": str(seed)}
    with (
        uvicorn(variant, under=under, start_timeout=120, env=seeded) as (proc, port),
        socket.create_connection(("127.0.0.1", port), timeout=60) as sock,
    ):
        get(sock, WARM_UP)
        callgrind_control("--instr=on", str(proc.pid))
        get(sock, requests)
        callgrind_control("--dump", str(proc.pid))
    # The dump holds what was counted since counting began: the measured requests.
    for path in scratch.glob(f"callgrind.{variant}.seed{seed}*"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"^desc: Trigger: .*dump", text, re.MULTILINE):
            total = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
            if total:
                return int(total.group(1))
    raise RuntimeError(f"callgrind wrote no dump for {variant} in {scratch}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument(
        "--seeds", default="0,1,2", help="hash seeds to count each variant under (default 0,1,2)"
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        seeds = [int(seed) for seed in args.seeds.split(",")]
    except ValueError:
        parser.error(f"--seeds takes comma-separated integers, got {args.seeds!r}")
    stop_servers_on_sigterm()
    missing = [tool for tool in ("valgrind", "callgrind_control") if not shutil.which(tool)]
    if missing:
        sys.exit(f"{' and '.join(missing)} not on the PATH: apt-get install valgrind")
    counted: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            counted[seed] = {
                variant: count(variant, args.requests, Path(scratch), seed) / args.requests
                for variant in VARIANTS
            }
    per_request = {v: statistics.median(c[v] for c in counted.values()) for v in VARIANTS}
    ratios = {seed: _overhead_ratio(c) for seed, c in counted.items()}
    print(f"uvicorn under callgrind, {args.requests} requests one after the other "
          f"(after {WARM_UP} uncounted); user-space instructions per request, median "
          f"of hash seeds {', '.join(map(str, seeds))}")  # fmt: skip
    print()
    rows = print_rows(per_request)
    ratio = statistics.median(ratios.values())
    per_seed = {seed: (counted[seed], ratios[seed]) for seed in seeds}
    print()
    print("reqsignals' overhead / the floor's, per seed: "
          + ", ".join(f"{seed}: {r:.2f}×" for seed, r in ratios.items())
          + f"; median {ratio:.2f}× (target ≤ {RATIO_LIMIT}×)")  # fmt: skip
    bench_results.write(
        args.json,
        "Instructions per request under uvicorn",
        rows,
        targets=[
            bench_results.target(
                "instructions.ratio",
                "reqsignals' instructions over the bare request, against the floor's "
                "(median of the hash seeds' ratios)",
                ratio,
                RATIO_LIMIT,
                unit="×",
            )
        ],
        requests=args.requests,
        warm_up=WARM_UP,
        seeds={str(seed): {"instructions": c, "ratio": r} for seed, (c, r) in per_seed.items()},
    )


def print_rows(per_request: dict[str, float]) -> list[dict[str, Any]]:
    """Print *per_request* (instructions by variant) as a table; return it as rows."""
    bare = per_request["bare"]
    print("| variant | instructions per request | more than bare | share of bare |")
    print("|---|---:|---:|---:|")
    rows: list[dict[str, Any]] = []
    for variant, label in VARIANTS.items():
        extra = per_request[variant] - bare
        print(f"| {label} | {per_request[variant]:,.0f} | {extra:+,.0f} | {extra / bare:+.2%} |")
        rows.append({"variant": label, "instructions": per_request[variant], "extra": extra,
                     "share": extra / bare})  # fmt: skip
    return rows


def _overhead_ratio(per_request: dict[str, float]) -> float:
    """reqsignals' instructions above the bare request over the floor's, in one run."""
    bare = per_request["bare"]
    return (per_request["reqsignals"] - bare) / (per_request["floor"] - bare)


if __name__ == "__main__":
    main()
