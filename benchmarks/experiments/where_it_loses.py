"""Where on the real test rows the data-free student loses to the teacher.

For each dataset and seed, four 50-unit students of the same teacher, with the
same ``random_state`` and budget, differ only in what they know of the inputs:

- ``data-free``: ``DataFreeDistillRegressor(teacher).fit()``, the defaults;
- ``feature ranges (oracle)``: the same, with a normal domain cut at the
  training rows' per-feature minimum and maximum (an oracle: the ranges come
  from the real rows, though no row is seen);
- ``feature quantiles (oracle)``: the same, with each feature drawn on its own
  from the training rows' 101 percentiles (a ``"marginal"`` domain: every
  feature's distribution, none of their joint one);
- ``ours+X``: ``fit(X_train)``, the unlabelled training rows.

The test rows are grouped by their largest standardised feature value
(``max |x|``, in standard deviations); the table gives the fidelity error
(student vs teacher RMSE) per group, pooled over the seeds, and the share of
the squared error that comes from rows with a feature beyond 4 standard
deviations. A second table describes the training rows' ranges.

Example (``benchmarks/results/where_it_loses.md``)::

    python benchmarks/experiments/where_it_loses.py --data-dir ../shared/datasets \\
        --seeds 1 2 3 4 5 6 7 8 9 10 --jobs 2 --out benchmarks/results/where_it_loses
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent.parent))
from protocol import (  # noqa: E402
    DATASETS,
    add_data_arguments,
    add_task_arguments,
    run_tasks,
    teacher_for,
    write_csv,
    write_markdown,
)

from skdistill import DataFreeDistillRegressor, InputDomain  # noqa: E402

FITS = ["data-free", "feature ranges (oracle)", "feature quantiles (oracle)", "ours+X"]
# Groups of test rows by max |x|: [low, high) in standard deviations.
BANDS = [(0.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, np.inf)]
FAR = 4.0  # "a feature beyond 4 standard deviations"


def _band_label(low, high):
    return f"{low:g} to {high:g}" if np.isfinite(high) else f"{low:g} or more"


def run_task(task):
    """The four fits on one dataset and seed; squared errors per test row."""
    name, seed, args = task
    torch.set_num_threads(args.threads)
    teacher, (X_train, _, _, _, X_test, _) = teacher_for(args.data_dir, name, seed)
    with torch.no_grad():
        t_test = teacher(torch.as_tensor(X_test)).numpy().ravel()
    n_features = X_train.shape[1]
    low, high = X_train.min(axis=0), X_train.max(axis=0)
    ranges = {
        "loc": np.zeros(n_features),
        "scale": np.ones(n_features),
        "low": low,
        "high": high,
    }
    quantiles = InputDomain(
        X_train.mean(axis=0),
        X_train.std(axis=0),
        low=low,
        high=high,
        distribution="marginal",
        marginals=list(np.percentile(X_train, np.arange(101), axis=0).T),
        source="oracle: the training rows' percentiles",
    )
    setups = {
        "data-free": ({}, ()),
        "feature ranges (oracle)": ({"domain": ranges}, ()),
        "feature quantiles (oracle)": ({"domain": quantiles}, ()),
        "ours+X": ({}, (X_train,)),
    }
    errors = {}
    for fit_name in FITS:
        params, fit_args = setups[fit_name]
        student = DataFreeDistillRegressor(
            teacher, hidden_layer_sizes=(50,), random_state=seed, **params
        ).fit(*fit_args)
        errors[fit_name] = (student.predict(X_test).ravel() - t_test) ** 2
        print(
            f"{name:10s} s{seed} {fit_name:24s} "
            f"fid {np.sqrt(errors[fit_name].mean()):.4f}",
            flush=True,
        )
    return name, seed, np.abs(X_test).max(axis=1), errors, X_train


def _fidelity_table(done, datasets):
    lines = [
        "| dataset | fit | all rows | "
        + " | ".join(f"max abs x {_band_label(*b)}" for b in BANDS)
        + f" | share of squared error, rows beyond {FAR:g} sd |",
        "|---" * (len(BANDS) + 4) + "|",
    ]
    rows = []
    for name in datasets:
        tasks = [t for t in done if t[0] == name]
        reach = np.concatenate([t[2] for t in tasks])
        counts = [int(np.sum((reach >= lo) & (reach < hi))) for lo, hi in BANDS]
        lines.append(
            f"| {name} | test rows (all seeds) | {reach.size} | "
            + " | ".join(str(c) for c in counts)
            + f" | {np.mean(reach >= FAR):.1%} of rows |"
        )
        for fit_name in FITS:
            se = np.concatenate([t[3][fit_name] for t in tasks])
            cells = []
            for lo, hi in BANDS:
                inside = (reach >= lo) & (reach < hi)
                fid = np.sqrt(se[inside].mean()) if inside.any() else None
                cells.append(f"{fid:.4f}" if inside.any() else "(no rows)")
                if inside.any():
                    rows.append(
                        (name, fit_name, _band_label(lo, hi), inside.sum(), fid)
                    )
            far = reach >= FAR
            share = f"{se[far].sum() / se.sum():.0%}" if far.any() else "(no rows)"
            lines.append(
                f"| {name} | {fit_name} | {np.sqrt(se.mean()):.4f} | "
                + " | ".join(cells)
                + f" | {share} |"
            )
            rows.append((name, fit_name, "all rows", se.size, np.sqrt(se.mean())))
    return "\n".join(lines), rows


def _ranges_table(done, datasets):
    lines = [
        "| dataset | features | features with max above 4 sd | features with min "
        "below -4 sd | median of the features' min | median of their max |",
        "|---|---|---|---|---|---|",
    ]
    for name in datasets:
        # The lowest seed's training rows.
        X_train = next(t[4] for t in sorted(done, key=lambda t: t[1]) if t[0] == name)
        low, high = X_train.min(axis=0), X_train.max(axis=0)
        lines.append(
            f"| {name} | {X_train.shape[1]} | {int(np.sum(high > FAR))} | "
            f"{int(np.sum(low < -FAR))} | {np.median(low):.2f} | {np.median(high):.2f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser, DATASETS[:4])
    add_task_arguments(parser, seeds=[1, 2, 3])
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.csv")
    args = parser.parse_args()
    done = run_tasks(run_task, args)
    fidelity, rows = _fidelity_table(done, args.datasets)
    ranges = _ranges_table(done, args.datasets)
    print(fidelity + "\n\n" + ranges)
    if args.out:
        write_csv(
            args.out, ["dataset", "fit", "max_abs_x", "test_rows", "fidelity"], rows
        )
        preamble = (
            "Fidelity error (student vs teacher RMSE) on the real test rows, pooled "
            f"over seeds {args.seeds}, by the row's largest standardised feature "
            "value (max abs x, in standard deviations). Same teacher, seed and "
            "budget in each fit; 50-unit student; no labels anywhere. 'feature "
            "ranges (oracle)' is not data-free: its domain is cut at the training "
            "rows' per-feature min and max; nor is 'feature quantiles (oracle)', "
            "which draws each feature from the training rows' percentiles. "
            "Training rows' ranges (seed "
            f"{min(args.seeds)}) in the second table.\n\n"
        )
        write_markdown(args.out, fidelity + "\n\n" + ranges, preamble)


if __name__ == "__main__":
    main()
