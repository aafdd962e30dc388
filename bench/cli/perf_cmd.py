"""``bench perf``: engine vs tutorial ``fit``, FLOP-floor share, and worker throughput."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from bench.cli.app import app
from bench.cli.common import DataDirOpt, ResultsOpt, default_results
from bench.cli.progress import console


@app.command("perf")
def perf(
    images: int = typer.Option(60_000, "--images", help="Training images per measured epoch"),
    rounds: int = typer.Option(3, "--rounds", help="Alternating rounds per configuration"),
    workers: int = typer.Option(2, "--workers", "-w", help="Workers for the sweep measurement"),
    sweep_runs: int = typer.Option(8, "--sweep-runs", help="Runs in the sweep measurement"),
    no_cnn: bool = typer.Option(False, "--no-cnn", help="Skip the CNN comparison"),
    results: Path = ResultsOpt,
    data_dir: Path = DataDirOpt,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary on stdout"),
) -> None:
    """Measure the engine against tutorial-style model.fit in this process and store it."""
    from bench.errors import BenchError

    if images < 1000 or rounds < 1 or workers < 1:
        raise BenchError("--images must be >= 1000, --rounds and --workers >= 1")
    from bench.devices import unseen_gpu_warning
    from bench.perf import run_perf
    from bench.store import ResultStore

    warning = unseen_gpu_warning()
    if warning:
        console.print(f"[yellow]{warning}[/]", soft_wrap=True)

    rows = run_perf(images, rounds, workers, sweep_runs, str(data_dir) if data_dir else None,
                    cnn=not no_cnn)
    import pandas as pd

    stamp = time.time()
    for row in rows:
        row["measured_at"] = stamp
    store = ResultStore(results or default_results("perf"))
    old = store.table("perf") if store.has_table("perf") else pd.DataFrame()
    store.write_table("perf", pd.concat([old, pd.DataFrame(rows)], ignore_index=True))
    from bench.manifest import environment

    store.update_manifest(**environment())
    if as_json:
        print(json.dumps([{k: v for k, v in r.items() if not (isinstance(v, float)
                                                               and math.isnan(v))}
                          for r in rows], indent=1))
        return
    console.print(_perf_table(rows, store.root))


def _perf_table(rows: list[dict[str, Any]], root: Path) -> Table:
    """The measurements as a terminal table (one row per model, peak, GPU or sweep)."""
    table = Table(title=f"bench perf ({rows[-1]['backend']}); results in {root}")
    gpu = next((r for r in rows if r["kind"] == "gpu"), None)
    columns = ["what", "batch", "tutorial img/s", "engine img/s", "speed-up", "FLOP floor share"]
    for col in columns + (["GPU peak share"] if gpu else []):
        table.add_column(col, justify="right")
    for r in rows:
        extra = []
        if gpu and r["kind"] == "fit":
            share = r.get("engine_gpu_share", float("nan"))
            extra = ["unknown peak" if math.isnan(share) else f"{share:.2%}"]
        elif gpu:
            extra = [""]
        if r["kind"] == "peak":
            table.add_row(f"matmul peak ({r.get('device', 'cpu')})", "", "",
                          f"{r['peak_gflops']:.0f} GFLOP/s", "", "", *extra)
        elif r["kind"] == "gpu":
            peaks = ", ".join(f"{k.removeprefix('datasheet_tflops_')} {v:g}"
                              for k, v in r.items() if k.startswith("datasheet_tflops_"))
            table.add_row(r["device"], "", "", "datasheet TFLOP/s: " + (
                peaks if r["peak_known"] else "unknown GPU, no share"), "", "", *extra)
        elif r["kind"] == "fit":
            table.add_row(r["model"], str(r["batch_size"]), f"{r['tutorial_images_per_s']:,.0f}",
                          f"{r['engine_images_per_s']:,.0f}", f"{r['speedup']:.2f}x",
                          f"{r['engine_flop_share']:.0%}", *extra)
        else:
            table.add_row(f"sweep, {r['runs']} runs", "32", f"{r['tutorial_sweep_s']:.1f} s",
                          f"{r['engine_sweep_s']:.1f} s, {r['workers']} workers",
                          f"{r['speedup']:.2f}x", "", *extra)
    return table
