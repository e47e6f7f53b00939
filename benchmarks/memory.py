"""Peak memory of a fit with a 500-feature teacher: flat in the query budget.

Every configuration runs in a fresh process, so that peaks do not carry over,
and reports

- ``tracemalloc`` peak: Python-level allocations during ``fit``, numpy
  arrays included (the black-box teacher's float64 batches and answers);
- max RSS: the process's peak resident memory (``resource.getrusage``),
  which also counts torch tensors, and its growth during ``fit`` over the
  peak before it (imports, the teacher, a tiny warm-up fit that imports what
  torch imports lazily).

The teachers: a torch MLP (500 -> 256 -> 256 -> 1, white box, queried
through gradients) and a scikit-learn Pipeline(StandardScaler, Ridge) (black
box, domain inferred from the scaler). Memory follows ``round_size`` (the
queries labelled per teacher call) and ``n_holdout``, never ``max_queries``:
the last configuration raises ``round_size`` to show the knob that matters.

Example::

    python benchmarks/memory.py --budgets 20000 80000 320000 \\
        --out benchmarks/results/memory
"""

import argparse
import json
import resource
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from protocol import write_markdown  # noqa: E402

N_FEATURES = 500
MIB = 2**20


def make_teacher(kind):
    if kind == "torch":
        torch.manual_seed(0)
        return torch.nn.Sequential(
            torch.nn.Linear(N_FEATURES, 256),
            torch.nn.Tanh(),
            torch.nn.Linear(256, 256),
            torch.nn.Tanh(),
            torch.nn.Linear(256, 1),
        )
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, (2000, N_FEATURES))
    y = X @ rng.normal(size=N_FEATURES) + rng.normal(size=2000)
    return make_pipeline(StandardScaler(), Ridge()).fit(X, y)


def _current_rss():
    """Resident memory now, in bytes (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


class RSSSampler(threading.Thread):
    """Sample the current RSS every ``interval`` seconds until stopped."""

    def __init__(self, interval=0.05):
        super().__init__(daemon=True)
        self.interval = interval
        self.samples = []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.interval):
            self.samples.append(_current_rss())


def measure(kind, budget, round_size):
    """Fit once in this process; return the measurements as a dict."""
    from skdistill import DataFreeDistillRegressor

    teacher = make_teacher(kind)
    # A tiny fit first, so that modules torch imports lazily (its optimizers
    # pull in tens of MiB of Python objects) are not counted as fit memory.
    DataFreeDistillRegressor(
        teacher, max_queries=1000, round_size=256, n_holdout=256, device="cpu"
    ).fit()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    sampler = RSSSampler()
    sampler.start()
    tracemalloc.start()
    start = time.perf_counter()
    d = DataFreeDistillRegressor(
        teacher,
        max_queries=budget,
        round_size=round_size,
        device="cpu",
        random_state=0,
    ).fit()
    seconds = time.perf_counter() - start
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    sampler.stopped.set()
    sampler.join()
    quarter = max(1, len(sampler.samples) // 4)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {
        "teacher": kind,
        "max_queries": budget,
        "round_size": round_size,
        "rounds": len(d.history_),
        "teacher_queries": d.n_teacher_queries_,
        "seconds": seconds,
        "tracemalloc_peak_mib": traced_peak / MIB,
        "max_rss_mib": after / MIB,
        "rss_growth_mib": (after - before) / MIB,
        # Median current RSS over the first and the last quarter of the fit.
        "rss_first_quarter_mib": float(np.median(sampler.samples[:quarter])) / MIB,
        "rss_last_quarter_mib": float(np.median(sampler.samples[-quarter:])) / MIB,
    }


def run_child(kind, budget, round_size):
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            kind,
            str(budget),
            str(round_size),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--budgets", type=int, nargs="+", default=[20_000, 80_000, 320_000]
    )
    parser.add_argument("--teachers", nargs="+", default=["torch", "pipeline"])
    parser.add_argument("--round-size", type=int, default=4096)
    parser.add_argument(
        "--large-round",
        type=int,
        default=16384,
        help="one more run per teacher with this round_size, at the middle budget",
    )
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, budget, round_size = args.child
        print(json.dumps(measure(kind, int(budget), int(round_size))))
        return

    configs = [
        (kind, budget, args.round_size)
        for kind in args.teachers
        for budget in args.budgets
    ]
    if args.large_round:
        middle = sorted(args.budgets)[len(args.budgets) // 2]
        configs += [(kind, middle, args.large_round) for kind in args.teachers]
    rows = []
    for config in configs:
        result = run_child(*config)
        rows.append(result)
        print(json.dumps(result), flush=True)

    lines = [
        "| teacher (500 features) | max_queries | round_size | rounds | fit s | "
        "tracemalloc peak MiB | max RSS MiB | RSS growth in fit MiB | "
        "RSS first / last quarter of fit MiB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['teacher']} | {r['max_queries']:,} | {r['round_size']:,} | "
            f"{r['rounds']} | {r['seconds']:.1f} | {r['tracemalloc_peak_mib']:.1f} | "
            f"{r['max_rss_mib']:.0f} | {r['rss_growth_mib']:.0f} | "
            f"{r['rss_first_quarter_mib']:.0f} / {r['rss_last_quarter_mib']:.0f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.out:
        preamble = (
            "Each row is a fresh process. tracemalloc counts Python-level "
            "allocations (numpy included) during fit; max RSS is the process "
            "peak (torch tensors included) and its growth during fit over the "
            "peak before it; the last column is the median current RSS (sampled "
            "every 50 ms) over the first and the last quarter of the fit.\n\n"
        )
        write_markdown(args.out, table, preamble)


if __name__ == "__main__":
    main()
