"""Black-box bounded-gap options, per teacher query.

A scikit-learn teacher has no input gradients, so ``BoundedGapQueries`` must
make its gap-seeking queries another way. This compares, at equal teacher
query budgets and with everything else at the defaults:

* ``base only``: ``alpha=0``, plain base-distribution queries (no gap seeking);
* ``evolve``: perturb the earlier queries with the largest gap to the current
  student;
* ``zeroth_order``: climb the gap along random directions, two teacher queries
  per step and query (the default since this comparison).

Teachers: a RandomForestRegressor(100) on Friedman #1 (domain: the known unit
box) and on the paper's standardised cpusmall split (domain: inferred from the
forest's leaves). Fidelity is R^2 of student vs teacher on real test rows.

Example::

    python benchmarks/black_box.py --data-dir ../shared/datasets \\
        --out benchmarks/results/black_box
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_friedman1
from sklearn.ensemble import RandomForestRegressor
from sklearn.metrics import r2_score

sys.path.insert(0, str(Path(__file__).parent))
from protocol import load_split, machine_line, write_markdown  # noqa: E402

from skdistill import BoundedGapQueries, DataFreeDistillRegressor  # noqa: E402

OPTIONS = {
    "base only": dict(alpha=0.0),
    "evolve": dict(black_box="evolve"),
    "zeroth_order": dict(black_box="zeroth_order"),
}


def problems(data_dir):
    X, y = make_friedman1(n_samples=5000, noise=1.0, random_state=0)
    X_test, _ = make_friedman1(n_samples=5000, noise=1.0, random_state=1)
    box = {"low": np.zeros(10), "high": np.ones(10)}
    yield "friedman1", X, y, X_test, box
    X_tr, y_tr, _, _, X_te, _ = load_split(data_dir, "cpusmall", seed=1)
    yield "cpusmall", X_tr, y_tr, X_te, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--budgets", nargs="+", type=int, default=[100_000, 300_000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    lines = [
        "| teacher | queries | option | fidelity R² (mean ± std over seeds) | seconds |",
        "|---|---|---|---|---|",
    ]
    print(f"# {machine_line()}", flush=True)
    for name, X, y, X_test, domain in problems(args.data_dir):
        teacher = RandomForestRegressor(n_estimators=100, random_state=0).fit(X, y)
        target = teacher.predict(X_test)
        for budget in args.budgets:
            for option, params in OPTIONS.items():
                scores, seconds = [], []
                for seed in args.seeds:
                    d = DataFreeDistillRegressor(
                        teacher,
                        query_strategy=BoundedGapQueries(**params),
                        domain=domain,
                        max_queries=budget,
                        random_state=seed,
                    )
                    start = time.perf_counter()
                    d.fit()
                    seconds.append(time.perf_counter() - start)
                    scores.append(r2_score(target, d.predict(X_test)))
                line = (
                    f"| RF(100) {name} | {budget:,} | {option} | "
                    f"{np.mean(scores):.4f} ± {np.std(scores):.4f} | "
                    f"{np.median(seconds):.1f} |"
                )
                print(line, flush=True)
                lines.append(line)
    table = "\n".join(lines)
    if args.out:
        write_markdown(args.out, table)


if __name__ == "__main__":
    main()
