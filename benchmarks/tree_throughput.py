"""Teacher query throughput of tree ensembles: sklearn predict vs hummingbird torch.

Both paths are timed exactly as the distiller calls them (``SklearnTeacher``'s
predict path, float32 tensor in, float32 tensor out, and the verified
hummingbird conversion from ``skdistill._hummingbird``) on batches of uniform
queries in Friedman #1's unit box, the teachers having been trained on 5,000
Friedman #1 rows. Each cell is the median of ``--repeats`` timed calls after
one warm-up call. The thread count applies to both paths: torch's intra-op
threads, the OpenMP pools (HistGradientBoosting) and a forest's ``n_jobs``.

Needs the optional extra: ``pip install -c constraints.txt -e '.[trees]'``.

Example::

    python benchmarks/tree_throughput.py --out benchmarks/results/tree_throughput
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import make_friedman1
from sklearn.ensemble import (
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from threadpoolctl import threadpool_limits

from skdistill._hummingbird import _agreement
from skdistill._teachers import as_teacher

sys.path.insert(0, str(Path(__file__).parent))
from protocol import write_markdown  # noqa: E402

TEACHERS = {
    "RandomForest(300)": lambda: RandomForestRegressor(
        n_estimators=300, random_state=0
    ),
    "HistGradientBoosting(100)": lambda: HistGradientBoostingRegressor(random_state=0),
    "GradientBoosting(100)": lambda: GradientBoostingRegressor(random_state=0),
}


def load_line():
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def wait_for_quiet(max_load, max_wait):
    """Wait until the 1-minute load average is below ``max_load`` (or give up)."""
    start = time.monotonic()
    while os.getloadavg()[0] > max_load and time.monotonic() - start < max_wait:
        time.sleep(15)
    return os.getloadavg()[0] <= max_load


def rows_per_s(query, x, repeats):
    query(x)  # warm-up: allocations, thread pools
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        query(x)
        seconds.append(time.perf_counter() - start)
    return x.shape[0] / float(np.median(seconds)), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--teachers", nargs="+", default=list(TEACHERS))
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument("--max-wait", type=float, default=1800)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()

    default_threads = torch.get_num_threads()
    quiet = wait_for_quiet(args.max_load, args.max_wait)
    start_load = load_line()
    print(f"# load avg at start {start_load} (quiet: {quiet})", flush=True)
    X, y = make_friedman1(n_samples=5000, noise=1.0, random_state=0)
    x = torch.rand(args.rows, 10, generator=torch.Generator().manual_seed(0))
    probe = x[:2048]
    lines = [
        "| teacher | threads | sklearn predict rows/s | hummingbird torch rows/s "
        "| hummingbird / predict | max abs diff | rows off | convert s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in args.teachers:
        model = TEACHERS[name]().fit(X, y)
        teacher = as_teacher(model)
        reference = teacher.predict(probe)
        record = teacher.compile(probe, reference, backend="hummingbird")
        compiled, predict = teacher.compiled, teacher._predict_with_sklearn
        for threads in args.threads:
            torch.set_num_threads(threads)
            if hasattr(model, "n_jobs"):
                model.set_params(n_jobs=threads)
            with threadpool_limits(limits=threads):
                sk, sk_times = rows_per_s(predict, x, args.repeats)
                hb, hb_times = rows_per_s(compiled, x, args.repeats)
            off, diff, _ = _agreement(compiled(x), predict(x))
            line = (
                f"| {name} | {threads} | {sk:,.0f} | {hb:,.0f} | {hb / sk:.2f} | "
                f"{diff:.2g} | {off:.3%} | {record['convert_seconds']:.1f} |"
            )
            print(
                line,
                f"# seconds: predict {sk_times}, hummingbird {hb_times}; "
                f"load {load_line()}",
                flush=True,
            )
            lines.append(line)
        print(f"# compile record: {record}", flush=True)
    torch.set_num_threads(default_threads)  # the stamp's thread count
    print(
        f"# torch threads per row as listed (default {default_threads}); "
        f"load avg at start {start_load}, at end {load_line()}"
    )
    if args.out:
        write_markdown(
            args.out,
            "\n".join(lines),
            f"torch threads per row as listed (default {default_threads}); load "
            f"average at the start {start_load}. {args.rows:,}-row batches of float32 "
            f"queries, median of {args.repeats} calls after a warm-up. Max abs diff "
            "and rows off (the share of rows differing by more than 1e-4 of the "
            "largest |output|, the verification tolerance) compare both paths on "
            "the whole batch; teacher outputs are ~5 to 30.\n\n",
        )


if __name__ == "__main__":
    main()
