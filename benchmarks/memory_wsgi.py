"""Peak memory of a real server streaming 1 GiB through SignalsMiddleware, and without it.

The app yields a 1 GiB body as 16,384 chunks of 64 KiB (one shared bytes object, so
the app itself holds nothing). A waitress or gunicorn subprocess on 127.0.0.1 serves
it, an httpx client reads and discards it, then the server's peak resident set
(``VmHWM`` in ``/proc/<pid>/status``) is read. With the middleware, one receiver is
connected to each request signal in the server, so the middleware wraps the body
rather than taking its no-receiver shortcut. "bare + import" imports reqsignals.wsgi
but does not use it, to tell the cost of the import from the cost of the middleware.
"before" is the peak after one small warm-up request (imports done); "growth" is
what streaming the body added to it.

Run from the repository root::

    python -m benchmarks.memory_wsgi [--gib 1] [--runs 3] [--servers waitress gunicorn]
                                     [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import results

CHUNK = b"\0" * 65536


def streaming_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    total = int(environ.get("QUERY_STRING") or 1 << 30)

    def body() -> Iterator[bytes]:
        for _ in range(total // len(CHUNK)):
            yield CHUNK

    start_response(
        "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(total))]
    )
    return body()


def _finished_log(sender: Any, status: int | None, **kwargs: Any) -> None:
    print(f"request_finished status={status}", file=sys.stderr)


def _quiet(sender: Any, **kwargs: Any) -> None:
    pass


def __getattr__(name: str) -> Any:
    # `benchmarks.memory_wsgi:bare` and `:wrapped`, built in the server process.
    if name == "bare":
        return streaming_app
    if name == "bare_imported":
        import reqsignals.wsgi  # noqa: F401 - the import's memory, without the middleware

        return streaming_app
    if name == "wrapped":
        from reqsignals import got_request_exception, request_finished, request_started
        from reqsignals.wsgi import SignalsMiddleware

        request_started.connect(_quiet)
        got_request_exception.connect(_quiet)
        request_finished.connect(_finished_log)
        return SignalsMiddleware(streaming_app)
    raise AttributeError(name)


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def _worker_pid(server: str, pid: int) -> int:
    if server == "waitress":
        return pid
    # gunicorn: the one worker is the master's child.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise RuntimeError("gunicorn started no worker")


def measure(server: str, target: str, size: int) -> tuple[int, int, float]:
    """(VmHWM before, VmHWM after, seconds) of the server for one streamed response."""
    import httpx

    from tests.helpers.support import run_server

    if server == "waitress":
        argv = ["python", "-m", "waitress", "--listen=127.0.0.1:{port}", target]
    else:
        argv = ["python", "-m", "gunicorn", "-w", "1", "-b", "127.0.0.1:{port}", target]
    with run_server(argv) as running:
        pid = _worker_pid(server, running.proc.pid)
        httpx.get(f"{running.url}/?{65536}", timeout=30).raise_for_status()  # warm up
        before = _status_kib(pid, "VmHWM")
        received = 0
        t0 = time.perf_counter()
        with httpx.stream("GET", f"{running.url}/?{size}", timeout=120) as response:
            for chunk in response.iter_raw(65536):
                received += len(chunk)
        seconds = time.perf_counter() - t0
        if received != size:
            raise RuntimeError(f"received {received} bytes of {size}")
        time.sleep(0.5)  # let the server close the response
        after = _status_kib(pid, "VmHWM")
        if "wrapped" in target and "request_finished status=200" not in running.output():
            raise RuntimeError(f"the middleware did not finish the request:\n{running.output()}")
    return before, after, seconds


VARIANTS = [
    ("bare app", "benchmarks.memory_wsgi:bare"),
    ("bare + import", "benchmarks.memory_wsgi:bare_imported"),
    ("SignalsMiddleware", "benchmarks.memory_wsgi:wrapped"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="body size in GiB")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant, lowest peak kept")
    parser.add_argument("--servers", nargs="+", default=["waitress", "gunicorn"])
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args(argv)
    size = int(args.gib * (1 << 30)) // len(CHUNK) * len(CHUNK)

    print(
        f"{size / (1 << 30):.2f} GiB streamed per run, {args.runs} runs per variant "
        "(a fresh server each), lowest peak kept; peak RSS = VmHWM of the server\n"
    )
    print(
        f"| {'server':<9} | {'variant':<18} | {'before MiB':>10} | {'peak MiB':>9} "
        f"| {'growth MiB':>10} | {'s':>4} |"
    )
    print(f"|{'-' * 11}|{'-' * 20}|{'-' * 12}|{'-' * 11}|{'-' * 12}|{'-' * 6}|")
    verdicts = []
    rows: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    notes: list[str] = []
    for server in args.servers:
        best: dict[str, tuple[int, int, float]] = {}
        for _ in range(args.runs):
            for label, target in VARIANTS:  # interleaved
                run = measure(server, target, size)
                if label not in best or run[1] < best[label][1]:
                    best[label] = run
        for label, _ in VARIANTS:
            before, after, seconds = best[label]
            rows.append(
                {
                    "server": server,
                    "variant": label,
                    "before_mib": before / 1024,
                    "peak_mib": after / 1024,
                    "growth_mib": (after - before) / 1024,
                    "seconds": seconds,
                }
            )
            print(
                f"| {server:<9} | {label:<18} | {before / 1024:>10.1f} | {after / 1024:>9.1f} "
                f"| {(after - before) / 1024:>10.1f} | {seconds:>4.1f} |"
            )

        def peak(label: str) -> float:
            return best[label][1] / 1024

        diff = peak("SignalsMiddleware") - peak("bare + import")
        targets.append(
            results.target(
                f"memory.wsgi.{server}",
                f"{server}: peak with the middleware - without it",
                diff,
                10.0,
                op="<",
                unit="MiB",
            )
        )
        notes.append(
            f"{server}: importing reqsignals at all adds "
            f"{peak('bare + import') - peak('bare app'):+.1f} MiB to the peak."
        )
        verdicts.append(
            f"{server}: peak with the middleware - without it (reqsignals imported in both): "
            f"{diff:+.1f} MiB (target < 10 MiB): {'met' if diff < 10 else 'MISSED'}; "
            f"importing reqsignals at all: {peak('bare + import') - peak('bare app'):+.1f} MiB"
        )
    print()
    print("\n".join(verdicts))
    results.write(
        args.json,
        "WSGI memory while streaming",
        rows,
        targets,
        notes,
        gib=size / (1 << 30),
        runs=args.runs,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
