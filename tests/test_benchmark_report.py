"""The benchmark report: one command runs benchmarks and writes the Markdown page.

The end-to-end test runs the real command on the dispatch benchmark in quick mode; the
others feed the renderer results as a benchmark's ``--json`` would write them.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks import e2e_asgi, instructions_asgi, report, results
from tests.helpers.support import ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
X = "\u00d7"  # the times sign the ratios are printed with


def test_quick_dispatch_report_has_machine_tables_targets_and_a_linked_png(
    tmp_path: Path,
) -> None:
    out = tmp_path / "b.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.report", "--quick", "--only", "dispatch",
         "--output", str(out), "--charts-dir", str(tmp_path / "img")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    page = out.read_text(encoding="utf-8")

    machine = page.split("## Machine", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"^\| CPU \| \S", machine, re.MULTILINE)
    assert re.search(r"^\| Python \| 3\.\d+", machine, re.MULTILINE)
    assert "| django | " in machine

    dispatch = page.split("## Dispatch", 1)[1]
    assert "python -m benchmarks.dispatch --rounds 3 --number 2000" in dispatch
    assert "Load average (1 / 5 / 15 min) before the run: " in dispatch
    # A row of the send table: receivers, refs, four timings, three ratios.
    row = r"^\| 1 \| strong \|" + r" [\d,.]+ \|" * 4 + rf" [\d.]+{X} \|" * 3 + "$"
    assert re.search(row, dispatch, re.MULTILINE), dispatch
    assert "| target | measured | limit | result |" in dispatch
    target_row = rf"^\| 1 receiver, strong: vs bare loop \| [\d.]+{X} \| ≤ 1\.20{X} \| "
    assert re.search(target_row + r"(met|\*\*MISSED\*\*) \|$", dispatch, re.MULTILINE)

    links = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", dispatch)
    assert links == ["img/dispatch.png"]
    png = (out.parent / links[0]).read_bytes()
    assert png[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (800, 450)


def wsgi_results(one_each_us: float) -> dict[str, Any]:
    """What benchmarks/middleware_wsgi.py --json writes, with chosen overheads (µs)."""
    overheads = {
        "bare app": 0.0,
        "pass-through middleware": 0.06,
        "reqsignals, no receivers": 0.08,
        "reqsignals, 1 receiver each": one_each_us,
        "(reference) the 2 receiver calls alone": 1.3,
        "opentelemetry": 56.0,
        "sentry": 72.0,
    }
    rows = [{"variant": k, "us": 0.2 + v, "overhead_us": v} for k, v in overheads.items()]
    targets = [
        results.target("wsgi.no_receivers", "no receivers", 0.08, 0.09, unit="µs"),
        results.target("wsgi.one_each", "1 receiver each", one_each_us, 56.0 / 40, unit="µs"),
    ]
    return {"title": "WSGI", "rows": rows, "targets": targets, "notes": ["A note."], "rounds": 60}


def ok_run(name: str, data: dict[str, Any]) -> report.Run:
    bench = report.BY_NAME[name]
    return report.Run(bench, bench.command(False), "ok", load="0.50 / 0.40 / 0.30", data=data)


@pytest.mark.parametrize(
    ("one_each_us", "verdict"),
    [
        pytest.param(3.5, "**MISSED**", id="missed"),
        pytest.param(1.2, "met", id="met"),
    ],
)
def test_targets_table_states_each_verdict(
    tmp_path: Path, one_each_us: float, verdict: str
) -> None:
    section = "\n".join(
        report.render_section(ok_run("middleware_wsgi", wsgi_results(one_each_us)), tmp_path)
    )
    line = f"| 1 receiver each | {report.num(one_each_us)} µs | ≤ 1.40 µs | {verdict} |"
    assert line in section
    assert "A note." in section
    assert "| reqsignals, 1 receiver each |" in section


def test_summary_says_missed_plainly_and_explains_from_the_numbers() -> None:
    run = ok_run("middleware_wsgi", wsgi_results(3.5))
    summary = "\n".join(report.render_summary([run], {}))
    assert "1 of 2 targets met; **1 missed**:" in summary
    missed = [line for line in summary.splitlines() if line.startswith("- ")]
    assert len(missed) == 1
    assert missed[0].startswith("- **WSGI middleware — 1 receiver each: MISSED** (3.50 µs).")
    # The reference row against the budget: 1.3 of 1.4 µs.
    assert "costs 1.30 µs (the reference row): 93% of the whole budget" in missed[0]
    assert "OpenTelemetry, +56.0 µs" in missed[0]


def test_a_target_without_an_explanation_is_stated_with_its_numbers() -> None:
    target = results.target("sessions.cookie.read", "CookieStore read", 1.8, 1.5, unit="x")
    assert report.explain(target, {}, {}) == f"Measured 1.80{X} against a limit of ≤ 1.50{X}."


def test_a_registered_benchmark_whose_script_is_absent_is_reported_not_run(
    tmp_path: Path,
) -> None:
    bench = report.Benchmark(
        name="no_such_benchmark", title="Nothing", full=(), quick=(), timeout=5,
        quick_timeout=5, intro="Intro.",
    )  # fmt: skip
    run = report.run_benchmark(bench, quick=True, scratch=tmp_path)
    assert run.status == "missing"
    section = "\n".join(report.render_section(run, tmp_path))
    assert "**Not run: script missing**" in section
    summary = "\n".join(report.render_summary([run], {}))
    assert "not run: script missing (`benchmarks/no_such_benchmark.py`)" in summary


def test_a_throughput_table_shows_the_server_cpu_and_the_receivers_alone() -> None:
    e2e = {
        "rows": [
            {"group": "throughput", "variant": "bare app", "rps": 10000.0,
             "every_round": [10000.0], "vs_bare": 1.0, "cpu_us": 80.0},
            {"group": "throughput", "variant": "reqsignals, 1 receiver each", "rps": 9500.0,
             "every_round": [9500.0], "vs_bare": 0.95, "cpu_us": 84.0},
            {"group": "throughput", "variant": "(reference) the 2 receiver calls alone",
             "rps": 9800.0, "every_round": [9800.0], "vs_bare": 0.98, "cpu_us": 82.0},
        ],
    }  # fmt: skip
    section = "\n".join(report.render_e2e(e2e))
    assert "server CPU µs/request (median round)" in section
    row = f"| (reference) the 2 receiver calls alone | 9,800 | 9,800 | 0.980{X} | 102 | 82.0 |"
    assert row in section


def _throughput_with_floor(floor_rounds: list[float], floor_cpu: float = 83.0) -> dict[str, Any]:
    # Four rounds; the bare app's best (10,400) is one the other rounds never reach.
    bare_rounds = [10000.0, 10000.0, 10400.0, 10000.0]
    ours_rounds = [9500.0, 9400.0, 9300.0, 9600.0]
    row = {"group": "throughput"}
    return {
        "rows": [
            {**row, "variant": "bare app", "rps": max(bare_rounds),
             "every_round": bare_rounds, "vs_bare": 1.0, "cpu_us": 80.0},
            {**row, "variant": "reqsignals, 1 receiver each", "rps": max(ours_rounds),
             "every_round": ours_rounds, "vs_bare": max(ours_rounds) / 10400.0,
             "cpu_us": 84.0},
            {**row, "variant": "(reference) the least a middleware can do",
             "rps": max(floor_rounds), "every_round": floor_rounds,
             "vs_bare": max(floor_rounds) / 10400.0, "cpu_us": floor_cpu},
        ],
    }  # fmt: skip


def test_a_throughput_table_shows_the_floor_round_by_round() -> None:
    section = "\n".join(report.render_e2e(_throughput_with_floor([9600.0] * 4)))
    assert "| (reference) the least a middleware can do | 9,600 | 9,600, 9,600, 9,600, " in section
    assert f"| 0.923{X} |" in section


def test_throughput_rounds_alternate_their_order_and_are_judged_paired() -> None:
    variants = ["bare", "reqsignals", "floor"]
    assert [e2e_asgi.round_order(variants, n) for n in range(3)] == [
        ["bare", "reqsignals", "floor"],
        ["floor", "reqsignals", "bare"],
        ["bare", "reqsignals", "floor"],
    ]
    # Round by round 0.90, 0.80 and 1.00: the median is 0.90, where the best rounds alone
    # (12,000 each) would say 1.00.
    rps = {"reqsignals": [9000.0, 8000.0, 12000.0], "bare": [10000.0, 10000.0, 12000.0]}
    assert e2e_asgi.paired_median(rps, "reqsignals", "bare") == pytest.approx(0.9)


WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:40001/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    27.10ms    3.01ms  40.12ms   90.00%
    Req/Sec     1.18k    80.00     1.30k    70.00%
  2361 requests in 2.00s, 330.15KB read
Requests/sec:   1180.42
Transfer/sec:    165.04KB
"""


def test_a_wrk_result_is_read_and_a_run_with_errors_is_refused() -> None:
    assert e2e_asgi._wrk_result(WRK_OUTPUT) == (1180.42, 2361)
    errors = WRK_OUTPUT.replace("Requests/sec", "  Non-2xx or 3xx responses: 5\nRequests/sec")
    with pytest.raises(RuntimeError, match="wrk saw errors"):
        e2e_asgi._wrk_result(errors)
    with pytest.raises(RuntimeError, match="wrk printed no result"):
        e2e_asgi._wrk_result("unable to connect to 127.0.0.1:40001 Connection refused\n")


def test_a_throughput_table_shows_the_median_round_beside_the_best() -> None:
    e2e = _throughput_with_floor([9600.0] * 4)
    for row in e2e["rows"]:
        row["vs_bare_median"] = 0.95
    section = "\n".join(report.render_e2e(e2e))
    assert "| variant | req/s (best) | every round | vs bare (best) | vs bare (median round) |" in (
        section
    )
    assert f"| 0.923{X} | 0.950{X} |" in section
    assert "the target, reqsignals against the floor, is judged the same way" in section


def test_a_miss_against_the_floor_is_set_against_its_rounds_and_the_instruction_counts() -> None:
    e2e = _throughput_with_floor([9800.0, 9900.0, 9900.0, 9760.0])
    # reqsignals over the floor, round by round: 0.969, 0.949, 0.939, 0.984.
    target = results.target("e2e.floor", "req/s vs floor", 0.959, 0.98, op=">=", unit="x")
    counts = {
        "rows": [
            {"variant": "reqsignals, 1 receiver each", "extra": 15_000.0},
            {"variant": "(reference) the least a middleware can do", "extra": 12_500.0},
        ]
    }
    found = {"e2e_asgi": e2e, "instructions_asgi": counts}
    text = report.explain(target, found, {"e2e_asgi": "1.00 / 1.00 / 1.00"})
    assert text.startswith(
        f"Under reqsignals uvicorn served 0.959{X} of the requests per second it served under "
        "the least a middleware can do, the median over the rounds of the ratio within each "
        "round (load average 1.00 / 1.00 / 1.00 when the run began)."
    )
    assert f"ranged from 0.939{X} to 0.984{X}, and 1 of 4 rounds met it, so most" in text
    assert text.endswith(
        f"The floor itself served 0.978{X} of the bare app's requests per second (median "
        "round); counted in instructions, which no other load moves, reqsignals' work over "
        f"the bare request is 1.20{X} the floor's (+2,500 instructions a request)."
    )


def test_a_throughput_ratio_that_rounds_to_its_limit_gets_a_third_decimal() -> None:
    close = results.target("e2e.floor", "req/s vs floor", 0.976, 0.98, op=">=", unit="x")
    clear = results.target("e2e.floor", "req/s vs floor", 0.952, 0.98, op=">=", unit="x")
    assert report.measured(close) == f"0.976{X}"
    assert report.measured(clear) == f"0.95{X}"
    assert f"| req/s vs floor | 0.976{X} | ≥ 0.98{X} | **MISSED** |" in "\n".join(
        report.targets_table([close])
    )


def test_a_benchmark_without_json_is_shown_as_it_printed(tmp_path: Path) -> None:
    bench = report.BY_NAME["auth"]
    printed = "| store | session only |\n|---|---:|\n| CookieStore | 9.7 |"
    run = report.Run(bench, bench.command(False), "ok", load="1.00 / 1.00 / 1.00", stdout=printed)
    section = "\n".join(report.render_section(run, tmp_path))
    assert "the script has no `--json` option" in section
    assert printed in section
    assert "**Targets**" not in section


def test_instruction_counts_set_reqsignals_against_the_floor() -> None:
    def row(variant: str, instructions: float) -> dict[str, Any]:
        extra = instructions - 500_000.0
        return {"variant": variant, "instructions": instructions, "extra": extra,
                "share": extra / 500_000.0}  # fmt: skip

    data = {
        "requests": 2000,
        "warm_up": 300,
        "rows": [
            row("bare app", 500_000.0),
            row("(reference) the 2 receiver calls alone", 506_000.0),
            row("(reference) the least a middleware can do", 510_000.0),
            row("reqsignals, 1 receiver each", 515_000.0),
        ],
    }
    section = "\n".join(report.render_instructions(data))
    assert section.startswith(
        "2000 requests one after the other on one connection, after 300 uncounted"
    )
    assert "| bare app | 500,000 | +0 | +0.00% |" in section
    assert "| (reference) the least a middleware can do | 510,000 | +10,000 | +2.00% |" in section
    assert "| reqsignals, 1 receiver each | 515,000 | +15,000 | +3.00% |" in section
    assert section.endswith(
        f"reqsignals adds 1.50{X} the instructions of the least a middleware can do: +5,000 "
        "a request (+1.00% of the bare request) for the work the floor leaves out (below)."
    )


def test_instruction_counts_under_several_layouts_show_each_layouts_ratio() -> None:
    data = {
        "requests": 1000,
        "warm_up": 300,
        "rows": [],
        "layouts": {"0": {"ratio": 1.31}, "1": {"ratio": 1.18}, "2": {"ratio": 1.24}},
    }
    section = "\n".join(report.render_instructions(data))
    assert "the median of 3 runs under different layouts" in section.splitlines()[0]
    assert section.endswith(
        f"Per layout, reqsignals' overhead over the floor's: 0: 1.31{X}, 1: 1.18{X}, "
        f"2: 1.24{X}. One layout's count moves by a few thousand instructions a request "
        "with where the process's types and names happen to lie, so the target is judged "
        "on the medians of the table above, not on any one layout."
    )


def test_instruction_counts_show_each_layouts_count() -> None:
    counts = {"bare": 500_000.0, "floor": 510_000.0, "reqsignals": 512_500.0}
    data = {
        "requests": 1000,
        "warm_up": 300,
        "rows": [],
        "layouts": {
            "0": {"ratio": 1.25, "instructions": counts},
            "1": {"ratio": 1.1, "instructions": {**counts, "reqsignals": 511_000.0}},
        },
    }
    section = "\n".join(report.render_instructions(data))
    assert f"| 0 | 500,000 | 510,000 | 512,500 | 1.25{X} |" in section
    assert f"| 1 | 500,000 | 510,000 | 511,000 | 1.10{X} |" in section


def test_a_miss_that_most_rounds_met_is_put_down_to_noise() -> None:
    e2e = _throughput_with_floor([10000.0] * 4)
    ours = e2e["rows"][1]
    ours["every_round"] = [9850.0, 9800.0, 9300.0, 9810.0]  # 0.985, 0.980, 0.930, 0.981
    ours["rps"] = 9850.0
    target = results.target("e2e.floor", "req/s vs floor", 0.9805, 0.98, op=">=", unit="x")
    text = report.explain(target, {"e2e_asgi": e2e}, {})
    assert (
        f"ranged from 0.930{X} to 0.985{X}, and 3 of 4 rounds met it: the verdict is within "
        "this machine's noise."
    ) in text


def test_counted_servers_get_their_layout_and_the_malloc_tunable_after_any_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert instructions_asgi.server_env(3) == {
        "PYTHONHASHSEED": "3",
        "REQSIGNALS_BENCH_LAYOUT": "3",
        "GLIBC_TUNABLES": "glibc.malloc.tcache_count=65535",
    }
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=1")
    assert instructions_asgi.server_env(0)["GLIBC_TUNABLES"] == (
        "glibc.malloc.arena_max=1:glibc.malloc.tcache_count=65535"
    )
