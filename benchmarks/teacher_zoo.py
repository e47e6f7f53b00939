"""The teacher zoo: every-day regressors on raw tables, distilled three ways.

For each table (raw columns, no standardisation) and each teacher kind, fit
the teacher on the training rows, then make a student three ways:

* ``fit()``: ``DataFreeDistillRegressor(teacher, random_state=0).fit()``,
  every default, no rows at all (the domain is what the teacher reveals);
* ``fit(X)``: the same with the unlabelled training rows,
  ``.fit(X_train)`` (they only shape the query domain);
* ``munge``: the peer that users of AutoGluon's ``distill`` get, MUNGE
  augmentation of the training rows (Bucilă, Caruana & Niculescu-Mizil, 2006)
  labelled by the teacher, then the same student as ours (see
  :func:`munge_student`).

Reports per (table, teacher, method): fidelity R² (student vs teacher on the
test rows), R² to the truth of teacher and student, fit seconds, predict
speed-up (median of 5 ``teacher.predict(X_test)`` over the student's), the
pickled bytes of teacher and student (``distiller.student_``, or the peer's
net) and their ratio, the domain's source, torch threads and load average.

The peer, exactly. MUNGE as AutoGluon's ``munge_augment`` implements it
(``perturb_prob=0.5``, ``s=1``): each row's nearest neighbour among the
training rows, by Euclidean distance in standard units; each synthetic row
copies a training row (cycling through them) and, with probability 0.5 per
feature, takes its neighbour's value plus Gaussian noise of scale ``|a - b| /
s``. Every column is treated as continuous (AutoGluon does so for integer
columns too; these tables have no categorical columns). The paper perturbs
the neighbour symmetrically, in place, over ``k`` copies of the set; the
one-sided, row-cycling version gives each synthetic row the same
distribution and is what AutoGluon ships. The training rows plus the
synthetic ones make ``max_queries`` rows in all (the distiller's teacher
budget, 400,000 by default), labelled by the teacher in one call. The student
is the distiller's default: ``StudentNet(MLPStudent)`` with its hidden
layers, input monomials and activation, from a random start (the
distiller's least-squares start of a polynomial student is its own), inputs
and targets standardised by the augmented
set's mean and scale (built into the module, as ``student_``'s are), Adam at
the distiller's "auto" learning rate and batch size, the same number of steps
(``n_passes`` epochs over ``max_queries`` rows) on the same warm-up cosine
schedule, stepped per batch. No model selection (the peer has no hold-out).
Its predictions, and their timing, go through its module as
``DataFreeDistillRegressor.predict`` goes through ``student_``'s.

Tables: the paper's four ``.npz`` (``--data-dir``), sklearn's diabetes
(unscaled), Friedman #1 (n=5000, noise 1), a Friedman #1 with integer-coded
inputs and a binary flag, and the numeric columns of the four
``frames/*.csv.gz``. Each splits ``train_test_split(train_size=min(5000,
0.7 n), random_state=0)``; at most 10,000 test rows are kept (only mv has
more).

Example (a smoke run; the full run drops ``--tables``, ``--teachers`` and
``--max-queries``)::

    python benchmarks/teacher_zoo.py --data-dir ../shared/datasets \\
        --tables diabetes friedman1 --teachers rf hgb mlp \\
        --max-queries 20000 --jobs 2 --out benchmarks/results/teacher_zoo
"""

import argparse
import functools
import os
import pickle
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
    StackingRegressor,
)
from sklearn.linear_model import Ridge, RidgeCV
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsRegressor, NearestNeighbors
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import PolynomialFeatures, StandardScaler
from sklearn.svm import SVR
from skorch.callbacks import LRScheduler

sys.path.insert(0, str(Path(__file__).parent))
from protocol import (  # noqa: E402
    machine_line,
    median_seconds,
    save_figure,
    write_csv,
    write_markdown,
)

from skdistill import (  # noqa: E402
    DataFreeDistillRegressor,
    InputDomain,
    MLPStudent,
    StudentNet,
    WarmupCosineLR,
)
from skdistill._estimator import _resolve_learning_rate  # noqa: E402

MAX_TEST_ROWS = 10_000
SVR_MAX_ROWS = 3000
METHODS = ["fit()", "fit(X)", "munge"]
# The targets for the full zoo (median / worst fidelity R²).
TARGETS = {"fit()": (0.95, 0.7), "fit(X)": (0.98, 0.85)}


# -- tables: each returns raw (X_train, X_test, y_train, y_test) -------------------
def _split(X, y):
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).ravel()
    train_size = min(5000, int(0.7 * len(X)))
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=train_size, random_state=0
    )
    return X_train, X_test[:MAX_TEST_ROWS], y_train, y_test[:MAX_TEST_ROWS]


def _npz(name, data_dir):
    data = np.load(Path(data_dir) / f"{name}.npz", allow_pickle=False)
    return _split(data["X"], data["y"])


def _frame(name, target, data_dir):
    import pandas as pd

    frame = pd.read_csv(Path(data_dir) / "frames" / f"{name}.csv.gz")
    numeric = frame.select_dtypes("number").dropna()  # text columns dropped
    return _split(numeric.drop(columns=target), numeric[target])


def diabetes(data_dir):
    """sklearn's diabetes, unscaled (age in years, sex coded 1/2, ...)."""
    X, y = load_diabetes(return_X_y=True, scaled=False)
    return _split(X, y)


def friedman1(data_dir):
    """Friedman #1: 10 uniform inputs (5 irrelevant), noise 1, n=5000."""
    return _split(*make_friedman1(5000, n_features=10, noise=1.0, random_state=0))


def friedman1_coded(data_dir):
    """Friedman #1 whose inputs 3 and 4 are integer codes, plus a binary flag.

    Input 3 takes the codes 0..4 (for 0, 0.25, ..., 1), input 4 the codes
    0..9 (for 0, 1/9, ..., 1); column 10 is a flag (30% ones) that adds 3 to
    the target. The target is computed from the coded values, so the codes
    carry all there is to know.
    """
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(5000, 11))
    X[:, 3] = np.round(X[:, 3] * 4)
    X[:, 4] = np.round(X[:, 4] * 9)
    X[:, 10] = rng.uniform(size=5000) < 0.3
    y = (
        10 * np.sin(np.pi * X[:, 0] * X[:, 1])
        + 20 * (X[:, 2] - 0.5) ** 2
        + 10 * X[:, 3] / 4
        + 5 * X[:, 4] / 9
        + 3 * X[:, 10]
        + rng.standard_normal(5000)
    )
    return _split(X, y)


TABLES = {
    "compactiv": functools.partial(_npz, "compactiv"),
    "cpusmall": functools.partial(_npz, "cpusmall"),
    "mv": functools.partial(_npz, "mv"),
    "puma32h": functools.partial(_npz, "puma32h"),
    "diabetes": diabetes,
    "friedman1": friedman1,
    "friedman1_coded": friedman1_coded,
    "ames": functools.partial(_frame, "ames", "Sale_Price"),
    "wage": functools.partial(_frame, "wage", "wage"),
    "computers": functools.partial(_frame, "computers", "price"),
    "nmes1988": functools.partial(_frame, "nmes1988", "visits"),
}


# -- teachers: each returns (fitted teacher, note) ---------------------------------
def _log1p_shifted(y, shift):
    return np.log1p(y - shift)


def _expm1_shifted(z, shift):
    return np.expm1(z) + shift


def _forest(kind, n_estimators):
    return kind(n_estimators, min_samples_leaf=2, n_jobs=1, random_state=0)


def rf(X, y):
    return _forest(RandomForestRegressor, 300).fit(X, y), ""


def et(X, y):
    return _forest(ExtraTreesRegressor, 300).fit(X, y), ""


def hgb(X, y):
    return HistGradientBoostingRegressor(random_state=0).fit(X, y), ""


def gb(X, y):
    return GradientBoostingRegressor(random_state=0).fit(X, y), ""


def lgbm(X, y):
    from lightgbm import LGBMRegressor

    # One thread, like every teacher here: the pool's jobs share the cores,
    # and the speed-up compares one thread with one thread.
    return LGBMRegressor(verbose=-1, n_jobs=1, random_state=0).fit(X, y), ""


def xgb(X, y):
    from xgboost import XGBRegressor

    return XGBRegressor(n_jobs=1, random_state=0).fit(X, y), ""


def mlp(X, y):
    net = MLPRegressor(
        hidden_layer_sizes=(64, 64), max_iter=500, early_stopping=True, random_state=0
    )
    return Pipeline([("scale", StandardScaler()), ("mlp", net)]).fit(X, y), ""


def knn(X, y):
    steps = [("scale", StandardScaler()), ("knn", KNeighborsRegressor(10))]
    return Pipeline(steps).fit(X, y), ""


def svr(X, y):
    steps = [("scale", StandardScaler()), ("svr", SVR())]
    note = f"first {SVR_MAX_ROWS} training rows" if len(X) > SVR_MAX_ROWS else ""
    return Pipeline(steps).fit(X[:SVR_MAX_ROWS], y[:SVR_MAX_ROWS]), note


def ttr(X, y):
    """HistGradientBoosting on log1p(y); y shifted by its minimum where y <= -1."""
    shift, note = 0.0, ""
    if y.min() <= -1:
        shift = float(y.min())
        note = f"y shifted by its training minimum {shift:.4g} before log1p"
    model = TransformedTargetRegressor(
        HistGradientBoostingRegressor(random_state=0),
        func=functools.partial(_log1p_shifted, shift=shift),
        inverse_func=functools.partial(_expm1_shifted, shift=shift),
    )
    return model.fit(X, y), note


def poly(X, y):
    steps = [("poly", PolynomialFeatures(2)), ("ridge", Ridge())]
    return Pipeline(steps).fit(X, y), ""


def stack(X, y):
    model = StackingRegressor(
        [
            ("rf", _forest(RandomForestRegressor, 100)),
            ("hgb", HistGradientBoostingRegressor(random_state=0)),
        ],
        final_estimator=RidgeCV(),
    )
    return model.fit(X, y), ""


TEACHERS = {
    "rf": rf,
    "et": et,
    "hgb": hgb,
    "gb": gb,
    "lgbm": lgbm,
    "xgb": xgb,
    "mlp": mlp,
    "knn": knn,
    "svr": svr,
    "ttr": ttr,
    "poly": poly,
    "stack": stack,
}
# Teachers from optional packages: the module each needs.
OPTIONAL = {"lgbm": "lightgbm", "xgb": "xgboost"}


# -- the peer ----------------------------------------------------------------------
def munge(X, n_rows, p=0.5, s=1.0, random_state=0):
    """``X`` plus ``n_rows - len(X)`` MUNGE rows (see the module docstring)."""
    rng = np.random.default_rng(random_state)
    Z = StandardScaler().fit_transform(X)
    index = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z, return_distance=False)
    # With duplicate rows the first neighbour may be the row's twin, not itself.
    own = np.arange(len(X))
    neighbour = np.where(index[:, 0] == own, index[:, 1], index[:, 0])
    rows = np.arange(max(n_rows - len(X), 0)) % len(X)
    a, b = X[rows], X[neighbour[rows]]
    swapped = b + rng.normal(size=a.shape) * np.abs(a - b) / s
    synthetic = np.where(rng.uniform(size=a.shape) < p, swapped, a)
    return np.concatenate([X, synthetic])


def _default_student(teacher, n_features):
    """The distiller's "auto" student for this (black-box) teacher.

    ``(hidden_layer_sizes, degree, n_passes)``, as ``fit`` resolves them.
    """
    from skdistill._estimator import _AUTO_PASSES, _AUTO_STUDENT, _teacher_kind
    from skdistill._teachers import as_teacher

    adapter = as_teacher(teacher, n_features, torch.device("cpu"))
    kind, degree = _teacher_kind(adapter, teacher, None)
    return _AUTO_STUDENT[kind], degree, _AUTO_PASSES[kind]


def munge_student(teacher, X_train, max_queries):
    """The peer: MUNGE rows labelled by the teacher, the distiller's default student."""
    defaults = DataFreeDistillRegressor(teacher)
    X = munge(X_train, max_queries).astype(np.float32)
    y = np.asarray(teacher.predict(X), dtype=np.float32).reshape(len(X), -1)
    x_scale, y_scale = X.std(0), y.std(0)
    units = tuple(
        torch.as_tensor(u)
        for u in (
            X.mean(0),
            np.where(x_scale > 0, x_scale, 1),
            y.mean(0),
            np.where(y_scale > 0, y_scale, 1),
        )
    )
    lr = _resolve_learning_rate(
        defaults.learning_rate,
        defaults.batch_size,
        InputDomain.from_data(X_train, random_state=0),
    )
    sizes, degree, n_passes = _default_student(teacher, X.shape[1])
    n_steps = n_passes * int(np.ceil(len(X) / defaults.batch_size))
    schedule = LRScheduler(
        WarmupCosineLR,
        T_max=n_steps,
        warmup=max(1, round(defaults.learning_rate_warmup * n_steps)),
        eta_min=lr / 100,
        step_every="batch",
    )
    net = StudentNet(
        MLPStudent,
        module__n_features=X.shape[1],
        module__n_outputs=y.shape[1],
        module__hidden_layer_sizes=sizes,
        module__degree=degree,
        module__activation=defaults.activation,
        units=units,
        optimizer=torch.optim.Adam,
        lr=lr,
        batch_size=defaults.batch_size,
        max_epochs=n_passes,
        iterator_train__shuffle=True,
        train_split=None,
        callbacks=[("lr_schedule", schedule)],
        verbose=0,
    )
    torch.manual_seed(0)
    return net.fit(X, y)


class _ModulePredictor:
    """Predicts with a net's module as ``DataFreeDistillRegressor.predict`` does.

    skorch's ``predict`` fetches rows through a DataLoader, which costs more
    than the network; timing the peer through it would flatter ours.
    """

    def __init__(self, net):
        self.module = net.module_.eval()

    def predict(self, X):
        with torch.inference_mode():
            return self.module(torch.from_numpy(X)).numpy().astype(np.float64)


# -- one (table, teacher) task -----------------------------------------------------
def _distill(method, teacher, X_train, max_queries):
    """(student, object that predicts, domain source) for one method."""
    if method == "munge":
        net = munge_student(teacher, X_train, max_queries or 400_000)
        return net, _ModulePredictor(net), "munge: training rows + MUNGE rows"
    settings = {"max_queries": max_queries} if max_queries else {}
    distiller = DataFreeDistillRegressor(teacher, random_state=0, **settings)
    distiller.fit() if method == "fit()" else distiller.fit(X_train)
    return distiller.student_, distiller, distiller.domain_.source[:80]


def run_task(task):
    """Fit one teacher on one table; distill it by every method; return the rows."""
    table, teacher_name, args = task
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    with threadpool_limits(args.threads):
        X_train, X_test, y_train, y_test = TABLES[table](args.data_dir)
        start = time.perf_counter()
        teacher, note = TEACHERS[teacher_name](X_train, y_train)
        teacher_seconds = time.perf_counter() - start
        target = teacher.predict(X_test)
        teacher_r2 = r2_score(y_test, target)
        teacher_predict = median_seconds(lambda: teacher.predict(X_test))
        teacher_bytes = len(pickle.dumps(teacher))
        rows = []
        for method in args.methods:
            start = time.perf_counter()
            student, model, source = _distill(
                method, teacher, X_train, args.max_queries
            )
            seconds = time.perf_counter() - start
            pred = np.ravel(model.predict(X_test.astype(np.float32)))
            student_predict = median_seconds(
                lambda m=model: m.predict(X_test.astype(np.float32))
            )
            student_bytes = len(pickle.dumps(student))
            load = os.getloadavg()[0]
            row = {
                "table": table,
                "teacher": teacher_name,
                "method": method,
                "n_train": len(X_train),
                "n_test": len(X_test),
                "n_features": X_train.shape[1],
                "fidelity_r2": r2_score(target, pred),
                "teacher_r2": teacher_r2,
                "student_r2": r2_score(y_test, pred),
                "seconds": seconds,
                "teacher_fit_seconds": teacher_seconds,
                "speedup": teacher_predict / student_predict,
                "teacher_bytes": teacher_bytes,
                "student_bytes": student_bytes,
                "size_ratio": teacher_bytes / student_bytes,
                "domain_source": source,
                "teacher_note": note,
                "torch_threads": torch.get_num_threads(),
                "loadavg": round(load, 2),
            }
            print(
                f"{table:16s} {teacher_name:6s} {method:7s} "
                f"fidelity {row['fidelity_r2']:.4f}  truth R² teacher "
                f"{teacher_r2:.3f} student {row['student_r2']:.3f}  "
                f"{seconds:6.1f} s  speed-up {row['speedup']:.3g}x  "
                f"size {row['size_ratio']:.3g}x  load {load:.2f}",
                flush=True,
            )
            rows.append(row)
    return rows


# -- results -----------------------------------------------------------------------
COLUMNS = [
    "table",
    "teacher",
    "method",
    "n_train",
    "n_test",
    "n_features",
    "fidelity_r2",
    "teacher_r2",
    "student_r2",
    "seconds",
    "teacher_fit_seconds",
    "speedup",
    "teacher_bytes",
    "student_bytes",
    "size_ratio",
    "domain_source",
    "teacher_note",
    "torch_threads",
    "loadavg",
]


def _fmt(value):
    return f"{value:.6g}" if isinstance(value, float) else value


def summary(rows, args, skipped):
    """The markdown: targets, per-method summary, per-pair fidelities, notes."""
    by = {(r["table"], r["teacher"], r["method"]): r for r in rows}
    pairs = sorted({(r["table"], r["teacher"]) for r in rows})
    methods = [m for m in METHODS if m in args.methods]
    lines = [
        "| method | pairs | median fidelity R² | worst fidelity R² (pair) | "
        "median student R² to truth | median / max seconds | median speed-up | "
        "median size ratio | target (median / worst) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for method in methods:
        got = [r for r in rows if r["method"] == method]
        if not got:
            continue
        fid = np.array([r["fidelity_r2"] for r in got])
        worst = got[int(np.argmin(fid))]
        secs = np.array([r["seconds"] for r in got])
        target = TARGETS.get(method)
        verdict = "—"
        if target:
            met = np.median(fid) >= target[0] and fid.min() >= target[1]
            verdict = f"{target[0]} / {target[1]}: {'met' if met else 'missed'}"
        lines.append(
            f"| {method} | {len(got)} | {np.median(fid):.4f} | {fid.min():.4f} "
            f"({worst['table']}, {worst['teacher']}) | "
            f"{np.median([r['student_r2'] for r in got]):.4f} | "
            f"{np.median(secs):.1f} / {secs.max():.1f} | "
            f"{np.median([r['speedup'] for r in got]):.3g}x | "
            f"{np.median([r['size_ratio'] for r in got]):.3g}x | {verdict} |"
        )
    text = "\n".join(lines) + "\n\n"
    for method in ("fit()", "fit(X)"):
        both = [
            (by[(*p, method)], by[(*p, "munge")])
            for p in pairs
            if (*p, method) in by and (*p, "munge") in by
        ]
        if both:
            wins = sum(ours["fidelity_r2"] > peer["fidelity_r2"] for ours, peer in both)
            text += f"`{method}` beats `munge` on {wins} of {len(both)} pairs.\n"
    header = ["table", "teacher", "teacher R² to truth"]
    header += [f"{m} fidelity" for m in methods]
    header += [f"{m} R² to truth" for m in methods]
    header += [f"{m} s" for m in methods]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for pair in pairs:
        got = [by.get((*pair, m)) for m in methods]
        first = next(r for r in got if r is not None)

        def cell(r, key, fmt):
            return "—" if r is None else format(r[key], fmt)

        cells = [*pair, f"{first['teacher_r2']:.4f}"]
        cells += [cell(r, "fidelity_r2", ".4f") for r in got]
        cells += [cell(r, "student_r2", ".4f") for r in got]
        cells += [cell(r, "seconds", ".1f") for r in got]
        lines.append("| " + " | ".join(cells) + " |")
    text += "\nPer pair (fidelity: R² of student against teacher on the test rows):\n\n"
    text += "\n".join(lines) + "\n"
    notes = sorted({(r["table"], r["teacher"], r["teacher_note"]) for r in rows})
    notes = [f"- {t}, {k}: {n}" for t, k, n in notes if n]
    notes += [f"- skipped: {s}" for s in skipped]
    if notes:
        text += "\nNotes:\n\n" + "\n".join(notes) + "\n"
    return text


def preamble(args):
    budget = (
        f"`max_queries={args.max_queries:,}` for every method (a smoke-run "
        "override; the defaults use 400,000)"
        if args.max_queries
        else "every default (400,000 teacher queries; the peer labels as many rows)"
    )
    return (
        "Teachers fitted on raw training rows; students made by `fit()` (no "
        "data), `fit(X_train)` (unlabelled rows) and the `munge` peer (MUNGE rows "
        "labelled by the teacher, the same default student; see "
        "`benchmarks/teacher_zoo.py`). Budget: " + budget + ". Speed-up: median "
        "of 5 `predict(X_test)` of the teacher over the student's, one thread "
        "each (ours through `distiller.predict`, input validation included; the "
        "peer's through its module alone); size ratio: pickled teacher over pickled student (`student_`). "
        "All rows in `teacher_zoo.csv`.\n\n"
    )


def plot(rows, path):
    import matplotlib.pyplot as plt

    by = {(r["table"], r["teacher"], r["method"]): r["fidelity_r2"] for r in rows}
    pairs = sorted({(r["table"], r["teacher"]) for r in rows})
    key = "fit(X)" if any(k[2] == "fit(X)" for k in by) else rows[0]["method"]
    pairs.sort(key=lambda p: by.get((*p, key), np.nan))
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(pairs) + 2), 4.5))
    x = np.arange(len(pairs))
    for method, marker in zip(METHODS, "os^"):
        y = [1 - by.get((*p, method), np.nan) for p in pairs]
        ax.scatter(x, np.maximum(y, 1e-4), marker=marker, label=method, alpha=0.8)
    ax.set_yscale("log")
    ax.invert_yaxis()
    ax.set_xticks(x, [f"{t}/{k}" for t, k in pairs], rotation=90, fontsize=7)
    ax.set_ylabel("1 − fidelity R² (log, inverted: higher is better)")
    ax.set_title("Teacher zoo: fidelity per (table, teacher)")
    ax.legend()
    save_figure(fig, path)


def write(rows, args, skipped):
    order = {m: i for i, m in enumerate(METHODS)}
    rows = sorted(rows, key=lambda r: (r["table"], r["teacher"], order[r["method"]]))
    write_csv(args.out, COLUMNS, [[_fmt(r[c]) for c in COLUMNS] for r in rows])
    write_markdown(args.out, summary(rows, args, skipped), preamble(args))
    plot(rows, Path(args.out).with_suffix(".png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--tables", nargs="+", default=list(TABLES), choices=TABLES)
    parser.add_argument(
        "--teachers", nargs="+", default=list(TEACHERS), choices=TEACHERS
    )
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument(
        "--max-queries",
        type=int,
        default=None,
        help="override the distiller's max_queries (and the peer's rows); "
        "for smoke runs only, the stamp's command records it",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument(
        "--jobs", type=int, default=1, help="(table, teacher) tasks run in parallel"
    )
    parser.add_argument("--out", default=None, help="write OUT.csv, OUT.md, OUT.png")
    args = parser.parse_args()

    skipped, teachers = [], []
    for name in args.teachers:
        module = OPTIONAL.get(name)
        try:
            if module:
                __import__(module)
        except ImportError as error:
            reason = f"{name}: {module} is not importable ({error})"
            print(f"# skipping {reason}", flush=True)
            skipped.append(reason)
            continue
        teachers.append(name)

    torch.set_num_threads(args.threads)
    print(f"# {machine_line()}", flush=True)
    tasks = [(table, name, args) for table in args.tables for name in teachers]
    rows = []
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        for future in as_completed([pool.submit(run_task, t) for t in tasks]):
            rows += future.result()
            if args.out:  # after every task, so a cut-short run keeps its rows
                write(rows, args, skipped)
    print(summary(rows, args, skipped))
    print(f"# {machine_line()}")


if __name__ == "__main__":
    main()
