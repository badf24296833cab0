"""Instructions per request inside uvicorn, counted by valgrind's callgrind.

    python -m benchmarks.instructions_asgi [--requests 1000] [--layouts 0,...,10] [--json PATH]

The throughput benchmark (benchmarks.e2e_asgi) times requests, and on a shared machine
two servers of the same app differ by a percent or two from round to round: as much as
the difference being measured. Instruction counts of one layout (below) agree from run
to run to about 0.3% of a request. Each variant of benchmarks/asgi_targets.py is
served by uvicorn under ``valgrind --tool=callgrind`` with counting switched off;
after 300 warm-up requests it is switched on for ``--requests`` more, sent one after
the other on one keep-alive connection, and the count is read. Only the server's own
user-space instructions are counted: the kernel's share of each request (the socket
reads and writes) is not, and neither is how long an instruction takes, so the counts
rank the variants but do not convert to time. uvicorn is run by
benchmarks.quiet_uvicorn, which slows its housekeeping (a wake-up ten times a second)
to once every five seconds: under callgrind those wake-ups came to several thousand
instructions a request, more or fewer with how fast the machine ran the server, and
made two counts of one variant differ by more than the floor and reqsignals differ.

The count of one process is also a draw of its layout: where its objects, names and
types happen to lie decides which of them meet in one slot of CPython's type-attribute
cache (keyed by a type's version tag and a name's address) and evict each other on
every request, and how long dict and set probes run. Under uvicorn that moves one
variant's count by a few thousand instructions a request from one layout to another,
as much as reqsignals and the floor differ. So every variant is counted under several
layouts (``--layouts``): layout *k* runs with hash seed *k* and *k* classes made, and
looked at, before uvicorn loads the app, which moves every later version tag and
address. Each variant's median over the layouts is reported, and the target,
reqsignals' overhead at most 1.2 times the floor's, is judged on those medians. The
count of each layout is printed too, spread and all. Eleven layouts, by default: with
seven, three runs of one code put the ratio of the medians anywhere from 1.18 to 1.25,
as wide as the distance to the target.

Much of that spread, and a share of the difference itself, was glibc's allocator.
Every variant makes the same calls to ``malloc``, ``realloc`` and ``free`` (27 mallocs a
request; reqsignals adds none), yet ``_int_malloc``, glibc's search of its bins for a
free chunk, took from 3,600 to 5,300 instructions a request with what the process had
allocated and freed before: in ten layouts of eleven, 4,100 in the floor's process and
5,340 in reqsignals'. That comes with the heap start-up leaves, not with work done per
request: the floor, served from a process that had also connected reqsignals'
receivers and made a middleware it never called, took 5,080. So every server runs with
glibc's per-thread cache of freed chunks made large (``GLIBC_TUNABLES``,
:data:`MALLOC`): the same calls are then mostly served from it, and ``_int_malloc``
takes 4,720 to 4,800 instructions a request in every process. That changes how glibc
finds the memory for each call, not which calls are made.

Two servers are counted at a time (instruction counts do not depend on what else the
machine runs).

Needs ``valgrind`` (Debian package) on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
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
#: glibc's tunable for every counted server: up to 65,535 freed chunks of each small size
#: kept for reuse, where glibc keeps 7 (see the module's docstring).
MALLOC = "glibc.malloc.tcache_count=65535"
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


def server_env(layout: int) -> dict[str, str]:
    """What a counted server's environment adds: *layout*, and glibc's :data:`MALLOC`
    after any tunables already set."""
    return {
        "PYTHONHASHSEED": str(layout),
        "REQSIGNALS_BENCH_LAYOUT": str(layout),
        "GLIBC_TUNABLES": ":".join(filter(None, (os.environ.get("GLIBC_TUNABLES"), MALLOC))),
    }


def count(variant: str, requests: int, scratch: Path, layout: int = 0) -> int:
    """User-space instructions uvicorn spends on *requests* requests to *variant*,
    under *layout* (see the module's docstring)."""
    out = scratch / f"callgrind.{variant}.layout{layout}"
    under = ("valgrind", "-q", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}")  # fmt: skip
    with (
        uvicorn(
            variant,
            under=under,
            start_timeout=120,
            env=server_env(layout),
            quiet=True,
            pinned=False,
        ) as (proc, port),
        socket.create_connection(("127.0.0.1", port), timeout=60) as sock,
    ):
        get(sock, WARM_UP)
        callgrind_control("--instr=on", str(proc.pid))
        get(sock, requests)
        callgrind_control("--dump", str(proc.pid))
    # The dump holds what was counted since counting began: the measured requests.
    for path in scratch.glob(f"callgrind.{variant}.layout{layout}*"):
        text = path.read_text(encoding="utf-8", errors="replace")
        if re.search(r"^desc: Trigger: .*dump", text, re.MULTILINE):
            total = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
            if total:
                return int(total.group(1))
    raise RuntimeError(f"callgrind wrote no dump for {variant} in {scratch}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--layouts",
        default="0,1,2,3,4,5,6,7,8,9,10",
        help="layouts to count each variant under (default 0 to 10)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    try:
        layouts = [int(layout) for layout in args.layouts.split(",")]
    except ValueError:
        parser.error(f"--layouts takes comma-separated integers, got {args.layouts!r}")
    if any(layout < 0 for layout in layouts):
        parser.error(f"--layouts takes integers from 0 up, got {args.layouts!r}")
    stop_servers_on_sigterm()
    missing = [tool for tool in ("valgrind", "callgrind_control") if not shutil.which(tool)]
    if missing:
        sys.exit(f"{' and '.join(missing)} not on the PATH: apt-get install valgrind")
    jobs = [(layout, variant) for layout in layouts for variant in VARIANTS]
    with tempfile.TemporaryDirectory() as scratch, ThreadPoolExecutor(2) as pool:
        totals = pool.map(lambda job: count(job[1], args.requests, Path(scratch), job[0]), jobs)
        counted: dict[int, dict[str, float]] = {layout: {} for layout in layouts}
        for (layout, variant), total in zip(jobs, totals, strict=True):
            counted[layout][variant] = total / args.requests
    per_request = {v: statistics.median(c[v] for c in counted.values()) for v in VARIANTS}
    ratio = _overhead_ratio(per_request)
    print(f"uvicorn under callgrind, {args.requests} requests one after the other "
          f"(after {WARM_UP} uncounted); user-space instructions per request, median "
          f"of layouts {', '.join(map(str, layouts))}")  # fmt: skip
    print()
    rows = print_rows(per_request)
    print()
    print("| layout | " + " | ".join(VARIANTS) + " | ratio |")
    print("|---:|" + "---:|" * (len(VARIANTS) + 1))
    for layout, by_variant in counted.items():
        print(f"| {layout} | " + " | ".join(f"{by_variant[v]:,.0f}" for v in VARIANTS)
              + f" | {_overhead_ratio(by_variant):.2f}× |")  # fmt: skip
    print()
    print(f"reqsignals' overhead / the floor's, of the medians: {ratio:.2f}× "
          f"(target ≤ {RATIO_LIMIT}×)")  # fmt: skip
    bench_results.write(
        args.json,
        "Instructions per request under uvicorn",
        rows,
        targets=[
            bench_results.target(
                "instructions.ratio",
                "reqsignals' instructions over the bare request, against the floor's "
                "(medians over the layouts)",
                ratio,
                RATIO_LIMIT,
                unit="×",
            )
        ],
        requests=args.requests,
        warm_up=WARM_UP,
        layouts={
            str(layout): {"instructions": c, "ratio": _overhead_ratio(c)}
            for layout, c in counted.items()
        },
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
