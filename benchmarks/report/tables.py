"""Numbers as the page prints them, and the table of each benchmark's results."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Data = dict[str, Any]

#: The row of benchmarks/asgi_targets.py's FloorWithoutResponseDuration.
NO_RESPONSE_DURATION_VARIANT = "(reference) the floor without response_duration"
# The row of benchmarks/asgi_targets.py's Floor, in e2e_asgi and instructions_asgi.
FLOOR_VARIANT = "(reference) the least a middleware can do"


# -- numbers ----------------------------------------------------------------------


def num(value: float | None) -> str:
    """A number with as many decimals as its size deserves."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def signed(value: float) -> str:
    """:func:`num` with its sign, ``+`` included."""
    return ("+" if value >= 0 else "") + num(value)


def times(value: float, digits: int = 2) -> str:
    """A ratio, with the times sign after it."""
    return f"{value:.{digits}f}×"


def share(part: float, whole: float) -> str:
    """*part* as a fraction of *whole*: ``1/16`` below one, a times-ratio above."""
    if whole <= 0 or part <= 0:
        return "–"
    ratio = part / whole
    return f"1/{1 / ratio:.0f}" if ratio < 0.5 else times(ratio)


def with_unit(value: float, unit: str, digits: int = 2) -> str:
    """*value* in *unit*; a ratio (``x``) is printed as :func:`times`."""
    if unit in ("x", "×"):
        return times(value, digits)
    return f"{num(value)} {unit}".strip()


def measured(target: Data) -> str:
    """A target's value; a ratio that rounds to its limit gets a third decimal."""
    value, limit, unit = target["value"], target["limit"], target.get("unit", "")
    close = unit in ("x", "×") and value != limit and round(value, 2) == round(limit, 2)
    return with_unit(value, unit, 3 if close else 2)


def operator_sign(target: Data) -> str:
    """A target's comparison, as the page prints it (``≤``, ``≥``, ``<``, ``>``)."""
    return str(target.get("op", "<=")).replace("<=", "≤").replace(">=", "≥")


# -- tables -------------------------------------------------------------------------


def table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A Markdown table; *align* has one letter per column, ``l`` or ``r`` (default)."""
    align = align.ljust(len(header), "r")
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def verdict(target: Data) -> str:
    """``met``, or a bold ``MISSED``."""
    return "met" if target["met"] else "**MISSED**"


def targets_table(targets: list[Data]) -> list[str]:
    """The table of a benchmark's targets: what was measured, the limit, the verdict."""
    return table(
        ["target", "measured", "limit", "result"],
        [
            [
                t["name"],
                measured(t),
                f"{operator_sign(t)} " + with_unit(t["limit"], t.get("unit", "")),
                verdict(t),
            ]
            for t in targets
        ],
        align="lrrl",
    )


def render_dispatch(data: Data) -> list[str]:
    """The ``send`` and ``asend`` tables of benchmarks/dispatch.py."""
    send = [r for r in data["rows"] if r.get("group") == "send"]
    asend = [r for r in data["rows"] if r.get("group") == "asend"]
    out = [
        f"`send`, ns per send, {data.get('rounds')} rounds of {data.get('number')} sends, "
        "fastest round kept; ratios are reqsignals / other.",
        "",
    ]
    out += table(
        ["receivers", "refs", "bare loop", "reqsignals", "Django", "blinker", "vs bare",
         "vs Django", "vs blinker"],
        [
            [str(r["n"]), r["refs"], num(r["bare"]), num(r["reqsignals"]), num(r["django"]),
             num(r["blinker"]), times(r["reqsignals"] / r["bare"]),
             times(r["reqsignals"] / r["django"]), times(r["reqsignals"] / r["blinker"])]
            for r in send
        ],
        align="rl",
    )  # fmt: skip
    out += [
        "",
        "`asend`, ns per send (weak receivers, awaited inside one running event loop).",
        "",
    ]
    out += table(
        ["receivers", "kind", "reqsignals", "Django", "reqsignals / Django"],
        [
            [str(r["n"]), r["kind"], num(r["reqsignals"]), num(r["django"]),
             share(r["reqsignals"], r["django"])]
            for r in asend
        ],
        align="rl",
    )  # fmt: skip
    return out


def overheads(data: Data) -> dict[str, float]:
    """Each variant's overhead over the bare app, in µs, by variant."""
    return {r["variant"]: r["overhead_us"] for r in data["rows"]}


def render_middleware(otel: str, sentry: str) -> Callable[[Data], list[str]]:
    """The table of a middleware benchmark whose anchors are the variants *otel*, *sentry*."""

    def render(data: Data) -> list[str]:
        over = overheads(data)
        pt = over["pass-through middleware"]
        out = [
            f"µs per request, {data.get('rounds')} rounds, fastest round kept. Overheads are "
            "over the bare app; the last three columns compare each overhead with the "
            "pass-through middleware's, OpenTelemetry's and Sentry's.",
            "",
        ]
        rows = []
        for r in data["rows"]:
            first = r["variant"] == "bare app"
            rows.append(
                [
                    r["variant"],
                    num(r["us"]),
                    "" if first else signed(r["overhead_us"]),
                    "" if first else times(r["overhead_us"] / pt),
                    "" if first else share(r["overhead_us"], over[otel]),
                    "" if first else share(r["overhead_us"], over[sentry]),
                ]
            )
        out += table(
            ["variant", "µs/request", "overhead µs", "vs pass-through", "vs OpenTelemetry",
             "vs Sentry"],
            rows,
            align="l",
        )  # fmt: skip
        return out

    return render


def render_memory(data: Data) -> list[str]:
    """The peak-memory table of benchmarks/memory_wsgi.py."""
    out = [
        f"{data.get('gib', 1):g} GiB streamed per run, {data.get('runs')} runs per variant "
        "(a fresh server each), lowest peak kept.",
        "",
    ]
    out += table(
        ["server", "variant", "before MiB", "peak MiB", "growth MiB", "seconds"],
        [
            [r["server"], r["variant"], num(r["before_mib"]), num(r["peak_mib"]),
             signed(r["growth_mib"]), num(r["seconds"])]
            for r in data["rows"]
        ],
        align="ll",
    )  # fmt: skip
    return out


def render_e2e(data: Data) -> list[str]:
    """The throughput and memory tables of benchmarks/e2e_asgi.py."""
    out: list[str] = []
    thr = [r for r in data["rows"] if r.get("group") == "throughput"]
    mem = [r for r in data["rows"] if r.get("group") == "memory"]
    if thr:
        cpu = all("cpu_us" in r for r in thr)
        paired = all("vs_bare_median" in r for r in thr)
        out += [
            f"`wrk -t1 -c{data.get('connections')} -d{data.get('duration')}s`, "
            f"on all {len(thr)} servers at once, {data.get('rounds')} rounds (each server's share "
            f"of one CPU); uvicorn "
            f"{data.get('uvicorn')}, one worker, access log off."
            + (
                ' "vs bare (median round)" is the median over the rounds of the ratio to the '
                "bare app within each round; the target, reqsignals against the floor, is "
                "judged the same way."
                if paired
                else ""
            ),
            "",
        ]
        out += table(
            ["variant", "req/s (best)", "every round", "vs bare (best)"]
            + (["vs bare (median round)"] if paired else [])
            + ["µs per request (best)"]
            + (["server CPU µs/request (median round)"] if cpu else []),
            [
                [r["variant"], f"{r['rps']:,.0f}", ", ".join(f"{x:,.0f}" for x in r["every_round"]),
                 times(r["vs_bare"], 3)]
                + ([times(r["vs_bare_median"], 3)] if paired else [])
                + [num(1e6 / r["rps"])]
                + ([num(r["cpu_us"])] if cpu else [])
                for r in thr
            ],
            align="lrl",
        )  # fmt: skip
        out.append("")
    if mem:
        out += ["1 GiB streamed through uvicorn in 64 KiB chunks; the server's peak RSS.", ""]
        out += table(
            ["variant", "VmHWM before MiB", "VmHWM after MiB", "growth MiB", "seconds"],
            [
                [r["variant"], num(r["before_mib"]), num(r["peak_mib"]), signed(r["growth_mib"]),
                 num(r["seconds"])]
                for r in mem
            ],
            align="l",
        )  # fmt: skip
    return out


def render_instructions(data: Data) -> list[str]:
    """The instruction counts of benchmarks/instructions_asgi.py, set against the floor."""
    rows = {r["variant"]: r for r in data["rows"]}
    if data.get("where") == "called directly":
        first = (
            f"{data.get('requests')} requests, the app called in a loop with no server, after "
            f"{data.get('warm_up')} uncounted; user-space instructions per request."
        )
    else:
        first = (
            f"{data.get('requests')} requests one after the other on one connection, after "
            f"{data.get('warm_up')} uncounted; uvicorn's user-space instructions per request, "
            f"the median of {len(data.get('layouts') or {}) or 1} runs under different "
            "layouts (hash seeds and version tags: see the benchmark's docstring)."
        )
    out = [first, ""]
    out += table(
        ["variant", "instructions per request", "more than bare", "share of bare"],
        [
            [r["variant"], f"{r['instructions']:,.0f}", f"{r['extra']:+,.0f}",
             f"{r['share']:+.2%}"]
            for r in data["rows"]
        ],
        align="l",
    )  # fmt: skip
    floor, ours = rows.get(FLOOR_VARIANT), rows.get("reqsignals, 1 receiver each")
    if floor is not None and ours is not None and floor["extra"] > 0:
        out += [
            "",
            f"reqsignals adds {ours['extra'] / floor['extra']:.2f}× the instructions of the "
            f"least a middleware can do: {ours['extra'] - floor['extra']:+,.0f} a request "
            f"({ours['share'] - floor['share']:+.2%} of the bare request) for the work the "
            "floor leaves out (below).",
        ]
    without = rows.get(NO_RESPONSE_DURATION_VARIANT)
    if floor is not None and without is not None:
        cost = floor["instructions"] - without["instructions"]
        out += [
            "",
            f"`response_duration` costs the floor {cost:+,.0f} "
            "instructions a request: the end-of-body test in its `send`, one clock read, a "
            "subtraction and one keyword more for each receiver; reqsignals' middleware does "
            "the same work for it.",
        ]
    layouts = data.get("layouts") or {}
    if len(layouts) > 1:
        out += [
            "",
            "Per layout, reqsignals' overhead over the floor's: "
            + ", ".join(f"{layout}: {d['ratio']:.2f}×" for layout, d in layouts.items())
            + ". One layout's count moves by a few thousand instructions a request with "
            "where the process's types and names happen to lie, so the target is judged on "
            "the medians of the table above, not on any one layout.",
        ]
        counts = {k: d["instructions"] for k, d in layouts.items() if d.get("instructions")}
        if counts:
            shown = ("bare", "floor", "reqsignals")
            per_layout = table(
                ["layout", *(f"{v} (instructions)" for v in shown), "reqsignals / floor"],
                [
                    [layout, *(f"{c[v]:,.0f}" for v in shown), f"{layouts[layout]['ratio']:.2f}×"]
                    for layout, c in counts.items()
                ],
                align="l",
            )
            out += ["", *per_layout]
    return out


def render_sessions(data: Data) -> list[str]:
    """The read and write costs of benchmarks/sessions.py, against Starlette's."""
    out = [
        f"µs per request, {data.get('rounds')} rounds of {data.get('number')} requests, "
        "fastest round kept.",
        "",
    ]
    out += table(
        ["middleware", "read µs", "write µs", "read / Starlette", "write / Starlette"],
        [
            [r["middleware"], num(r["read_us"]), num(r["write_us"]),
             times(r["read_vs_starlette"]), times(r["write_vs_starlette"])]
            for r in data["rows"]
        ],
        align="l",
    )  # fmt: skip
    return out


def render_generic(data: Data) -> list[str]:
    """Every row's every key, for a benchmark the report has no layout for."""
    rows = data["rows"]
    if not rows:
        return []
    keys = list(rows[0])
    cells = [
        [num(r[k]) if isinstance(r.get(k), (int, float)) else str(r.get(k, "")) for k in keys]
        for r in rows
    ]
    return table(keys, cells, align="l")
