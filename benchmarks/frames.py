"""DataFrame teachers: five everyday kinds on the four mixed-type tables, both modes.

Follows ``../shared/datasets/frames/README.md``: drop the target,
``train_test_split(train_size=0.7, random_state=0)``, at most 5,000 training
rows; fit the teacher on the training frame (text columns as pandas reads
them, ``str``; as ``category`` for the two teachers that take categories
natively); distil with every default (``random_state=0``) with no data
(``fit()``) and with the unlabelled training frame (``fit(X_train)``); report
the fidelity R² (student vs teacher) on the test frame, the fit's seconds
and the synthetic hold-out R² (``holdout_r2_``).

Example::

    python benchmarks/frames.py --data-dir ../shared/datasets --jobs 2 \\
        --out benchmarks/results/frames
"""

import argparse
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import protocol  # noqa: E402

TABLES = {
    "ames": "Sale_Price",
    "wage": "wage",
    "computers": "price",
    "nmes1988": "visits",
}
TEACHERS = [
    "onehot_hgb",
    "onehot_ridge",
    "ordinal_forest",
    "hgb_categories",
    "lgbm_categories",
]
MODES = ["fit()", "fit(X)"]
TARGETS = {"fit()": (0.93, 0.7), "fit(X)": (0.97, 0.85)}  # median, worst


def load(data_dir, name):
    import pandas as pd
    from sklearn.model_selection import train_test_split

    frame = pd.read_csv(Path(data_dir) / "frames" / f"{name}.csv.gz")
    y = frame.pop(TABLES[name]).to_numpy(dtype=float)
    X_train, X_test, y_train, y_test = train_test_split(
        frame, y, train_size=0.7, random_state=0
    )
    return X_train.iloc[:5000], X_test, y_train[:5000], y_test


def teacher(kind, X):
    """``(unfitted teacher, how to prepare a frame for it)``."""
    import pandas as pd
    from lightgbm import LGBMRegressor
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    text = [
        c
        for c in X.columns
        if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))
    ]
    numbers = [c for c in X.columns if c not in text]
    as_is = lambda frame: frame  # noqa: E731
    as_categories = lambda frame: frame.astype({c: "category" for c in text})  # noqa: E731
    one_hot = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    if kind == "onehot_hgb":
        encode = ColumnTransformer(
            [("text", one_hot, text), ("numbers", "passthrough", numbers)]
        )
        return make_pipeline(
            encode, HistGradientBoostingRegressor(random_state=0)
        ), as_is
    if kind == "onehot_ridge":
        encode = ColumnTransformer(
            [("text", one_hot, text), ("numbers", StandardScaler(), numbers)]
        )
        return make_pipeline(encode, RidgeCV()), as_is
    if kind == "ordinal_forest":
        ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
        encode = ColumnTransformer(
            [("text", ordinal, text), ("numbers", "passthrough", numbers)]
        )
        forest = RandomForestRegressor(
            100, min_samples_leaf=2, n_jobs=1, random_state=0
        )
        return make_pipeline(encode, forest), as_is
    if kind == "hgb_categories":
        model = HistGradientBoostingRegressor(
            categorical_features="from_dtype", random_state=0
        )
        return model, as_categories
    if kind == "lgbm_categories":
        return LGBMRegressor(verbose=-1, n_jobs=1, random_state=0), as_categories
    raise ValueError(kind)


def run_pair(task):
    data_dir, name, kind = task
    import torch
    from sklearn.metrics import r2_score

    from skdistill import DataFreeDistillRegressor

    torch.set_num_threads(1)
    X_train, X_test, y_train, y_test = load(data_dir, name)
    model, prepare = teacher(kind, X_train)
    X_train, X_test = prepare(X_train), prepare(X_test)
    model.fit(X_train, y_train)
    y_teacher = model.predict(X_test)
    rows = []
    for mode in MODES:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            d = DataFreeDistillRegressor(model, random_state=0)
            d.fit() if mode == "fit()" else d.fit(X_train)
        seconds = time.perf_counter() - start
        rows.append(
            [
                name,
                kind,
                mode,
                round(float(r2_score(y_teacher, d.predict(X_test))), 4),
                round(float(r2_score(y_test, y_teacher)), 4),
                round(float(d.holdout_r2_), 4),
                round(seconds, 1),
                round(float(np.mean(__import__("os").getloadavg()[:1])), 2),
            ]
        )
    return rows


def summary(rows):
    lines = [
        "| mode | pairs | median fidelity R² | worst (pair) | target median / worst | median s | max s |",
        "|---|---|---|---|---|---|---|",
    ]
    for mode in MODES:
        mine = [r for r in rows if r[2] == mode]
        if not mine:
            continue
        fidelity = np.array([r[3] for r in mine])
        worst = mine[int(np.argmin(fidelity))]
        seconds = [r[6] for r in mine]
        median_target, worst_target = TARGETS[mode]
        lines.append(
            f"| {mode} | {len(mine)} | {np.median(fidelity):.4f} | {worst[3]:.4f} "
            f"({worst[0]}, {worst[1]}) | {median_target} / {worst_target} | "
            f"{np.median(seconds):.1f} | {max(seconds):.1f} |"
        )
    lines += [
        "",
        "| table | teacher | teacher R² to truth | fit() | fit(X) | hold-out R², fit() |",
        "|---|---|---|---|---|---|",
    ]
    for name in TABLES:
        for kind in TEACHERS:
            pair = {r[2]: r for r in rows if r[0] == name and r[1] == kind}
            if pair:
                free = pair.get("fit()")
                lines.append(
                    f"| {name} | {kind} | {next(iter(pair.values()))[4]:.3f} | "
                    + " | ".join(
                        f"{pair[m][3]:.4f}" if m in pair else "" for m in MODES
                    )
                    + f" | {free[5]:.3f} |"
                    if free
                    else " |"
                )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--tables", nargs="+", default=list(TABLES))
    parser.add_argument("--teachers", nargs="+", default=TEACHERS)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/frames")
    args = parser.parse_args()
    work = [(args.data_dir, n, k) for n in args.tables for k in args.teachers]
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for result in pool.map(run_pair, work):
            for row in result:
                print(*row, flush=True)
            rows += result
    header = [
        "table",
        "teacher",
        "mode",
        "fidelity_r2",
        "teacher_r2",
        "holdout_r2",
        "seconds",
        "load",
    ]
    protocol.write_csv(args.out, header, rows)
    preamble = (
        "Five teacher kinds on the four mixed-type tables of `frames/`, distilled "
        "with every default; fidelity R² of student vs teacher on the test frame.\n\n"
    )
    protocol.write_markdown(args.out, summary(rows), preamble)


if __name__ == "__main__":
    main()
