"""The teacher's noise inputs: which features ``noise_features="auto"`` averages over.

For every teacher (the published recipe, ``protocol.train_teacher``) this
reads the teacher's input sensitivity as a default fit does
(``skdistill._sensitivity.input_sensitivity`` on 2,048 N(0, 1) queries) and
reports the noise floor ``noise_floor`` finds, or how near to one the
teacher came: among the sets of at least 2 features within a factor 8 of
each other (the floor's spread), the largest gap to the features above them
(a floor needs 4). On the synthetic sets with known irrelevant inputs
(``protocol.NOISE_INPUTS``) it also says whether the averaged features are
those, and fits the default student both ways (``noise_features="auto"`` and
``None``), scored on the real test rows: RMSE against the truth and fidelity
to the teacher.

Example (``results/noise_features.md``)::

    python benchmarks/noise_features.py --data-dir ../shared/datasets \\
        --seeds 1 2 3 4 5 6 7 8 9 10 --jobs 2 --out benchmarks/results/noise_features
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from protocol import (  # noqa: E402
    DATASETS,
    NOISE_INPUTS,
    add_data_arguments,
    add_task_arguments,
    rmse,
    run_tasks,
    teacher_for,
    write_csv,
    write_markdown,
)

from skdistill import DataFreeDistillRegressor  # noqa: E402
from skdistill._sensitivity import (  # noqa: E402
    _FLOOR_SPREAD,
    floor_splits,
    input_sensitivity,
    noise_floor,
)
from skdistill._teachers import as_teacher  # noqa: E402


def nearest_floor(share):
    """The largest gap below a set of >= 2 features within the floor's spread.

    Returns ``(gap, spread, n_below, share_below)`` of that split.
    """
    s = np.sort(share)[::-1]
    best = (0.0, np.nan, 0, np.nan)
    for k, gap, spread, floor_share in floor_splits(s):
        if spread <= _FLOOR_SPREAD and gap > best[0]:
            best = (gap, spread, s.size - k, floor_share)
    return best


def run_task(task):
    name, seed, args = task
    torch.set_num_threads(args.threads)
    teacher, (*_, X_te, y_te) = teacher_for(args.data_dir, name, seed)
    d = X_te.shape[1]
    # As a default fit reads it: N(0, 1) queries, per standard unit.
    x = torch.randn(2048, d, generator=torch.Generator().manual_seed(seed))
    adapter = as_teacher(teacher, d, torch.device("cpu"))
    with torch.no_grad():
        t_test = teacher(torch.as_tensor(X_te)).numpy().ravel()
        y_scale = adapter(x).std(dim=0, keepdim=True)
    share = input_sensitivity(adapter, x, np.ones(d), y_scale)
    floor = noise_floor(share, np.ones(d, bool))
    gap, spread, n_below, share_below = nearest_floor(share)
    row = {
        "dataset": name,
        "seed": seed,
        "features": d,
        "averaged": int(floor.sum()),
        "averaged_features": " ".join(map(str, np.flatnonzero(floor))),
        "nearest_gap": gap,
        "nearest_spread": spread,
        "nearest_size": n_below,
        "nearest_share": share_below,
        "teacher_rmse": rmse(t_test, y_te),
    }
    if name in NOISE_INPUTS:
        truth = np.zeros(d, bool)
        truth[NOISE_INPUTS[name]] = True
        row["exact"] = bool(np.array_equal(floor, truth))
        for label, value in (("auto", "auto"), ("none", None)):
            start = time.perf_counter()
            est = DataFreeDistillRegressor(
                teacher, noise_features=value, random_state=seed
            ).fit()
            pred = est.predict(X_te)
            row[f"{label}_rmse"] = rmse(pred, y_te)
            row[f"{label}_fidelity"] = rmse(pred, t_test)
            row[f"{label}_seconds"] = time.perf_counter() - start
            if label == "auto":
                assert np.array_equal(est.noise_features_, floor)
    print(
        f"{name:13s} s{seed}: averaged {row['averaged']:2d} of {d} "
        f"(nearest floor: gap {gap:.1f}, spread {spread:.1f}, {n_below} features)"
        + (
            f"; RMSE {row['auto_rmse']:.4f} vs {row['none_rmse']:.4f}"
            if "auto_rmse" in row
            else ""
        ),
        flush=True,
    )
    return row


def _detection_table(rows, datasets):
    lines = [
        "| dataset | features | truly irrelevant | seeds with a floor | features "
        "averaged | exactly the irrelevant ones | nearest floor's gap (min, max) "
        "| its spread (max) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in datasets:
        r = [row for row in rows if row["dataset"] == name]
        found = [row for row in r if row["averaged"]]
        counts = sorted({row["averaged"] for row in r})
        truth = len(NOISE_INPUTS[name]) if name in NOISE_INPUTS else "unknown"
        exact = (
            f"{sum(row['exact'] for row in r)} of {len(r)}"
            if name in NOISE_INPUTS
            else ""
        )
        gaps = [row["nearest_gap"] for row in r]
        spreads = [row["nearest_spread"] for row in r]
        lines.append(
            f"| {name} | {r[0]['features']} | {truth} | {len(found)} of {len(r)} | "
            f"{', '.join(map(str, counts))} | {exact} | {min(gaps):.1f}, "
            f"{max(gaps):.1f} | {np.nanmax(spreads):.1f} |"
        )
    return "\n".join(lines)


def _fit_table(rows, datasets):
    names = [name for name in datasets if name in NOISE_INPUTS]
    if not names:
        return ""
    lines = [
        "",
        "",
        "The default student with the noise floor averaged over "
        '(`noise_features="auto"`) and copying every input (`None`), on the real '
        "test rows: mean RMSE against the truth and fidelity RMSE to the teacher; "
        "the paired change in RMSE (± standard error) and the seeds on which "
        "`auto` was closer to the truth.",
        "",
        "| dataset | teacher RMSE | auto: RMSE (fidelity) | None: RMSE (fidelity) | "
        "change in RMSE | seeds closer | median seconds (auto, None) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in names:
        r = [row for row in rows if row["dataset"] == name]
        auto = np.array([row["auto_rmse"] for row in r])
        none = np.array([row["none_rmse"] for row in r])
        diff = auto - none
        se = diff.std(ddof=1) / np.sqrt(diff.size) if diff.size > 1 else np.nan
        lines.append(
            f"| {name} | {np.mean([row['teacher_rmse'] for row in r]):.4f} | "
            f"{auto.mean():.4f} ({np.mean([row['auto_fidelity'] for row in r]):.4f}) "
            f"| {none.mean():.4f} ({np.mean([row['none_fidelity'] for row in r]):.4f})"
            f" | {diff.mean():+.4f} ± {se:.4f} | {int((diff < 0).sum())} of "
            f"{diff.size} | {np.median([row['auto_seconds'] for row in r]):.1f}, "
            f"{np.median([row['none_seconds'] for row in r]):.1f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_data_arguments(parser, DATASETS + list(NOISE_INPUTS))
    add_task_arguments(parser, seeds=[1, 2, 3])
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.csv")
    args = parser.parse_args()
    rows = run_tasks(run_task, args)
    table = _detection_table(rows, args.datasets) + _fit_table(rows, args.datasets)
    print(table)
    if args.out:
        fields = list(dict.fromkeys(key for row in rows for key in row))
        write_csv(args.out, fields, ([row.get(k, "") for k in fields] for row in rows))
        preamble = (
            "Sensitivity: each feature's share of the teacher's mean squared input "
            "gradient on 2,048 N(0, 1) queries. A noise floor: at least 2 features "
            "holding at most 5% of it together, within a factor 8 of each other "
            "(spread) and at least 4 times below every other feature (gap). "
            "'Nearest floor': over the sets of at least 2 lowest features within "
            "the spread, the largest gap to the feature above them. Seeds "
            f"{args.seeds}; {args.jobs} job(s) of {args.threads} torch thread(s).\n\n"
        )
        write_markdown(args.out, table, preamble)


if __name__ == "__main__":
    main()
