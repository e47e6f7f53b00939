"""The published protocol of Zhou & Chiam (2023), shared by the benchmark scripts.

See ``../shared/datasets/README.md``: standardise X and y over the whole set,
split 5000 train / 10% of the rest validation / rest test by ``seed``, and
train a 500-unit tanh MLP teacher with RMSprop (lr 1e-3, weight decay 1e-5,
batch 16, up to 500 epochs, ReduceLROnPlateau(0.5), early stop after 50
epochs without validation improvement). Teachers are cached on disk.
"""

import copy
import csv
import datetime
import os
import platform
import shlex
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch import nn

CACHE = Path(__file__).parent / "cache"


HIGHDIM = "highdim384"
# The paper's shared datasets, then the synthetic high-dimensional check.
DATASETS = ["compactiv", "cpusmall", "mv", "puma32h", HIGHDIM]
# Synthetic sets whose irrelevant inputs are known (make_noise_inputs): name ->
# the indices of the inputs that do not bear on the target.
NOISE_INPUTS = {
    "friedman1_5": [],
    "friedman1": list(range(5, 10)),
    "friedman1_30": list(range(5, 30)),
    "sparse_linear": list(range(5, 20)),
}


def add_data_arguments(parser, datasets=DATASETS):
    """Add ``--data-dir`` and ``--datasets`` (default ``datasets``) to ``parser``."""
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=list(datasets),
        help=f"dataset files in --data-dir, or {HIGHDIM} (synthetic, 384 features)",
    )


def add_task_arguments(parser, seeds):
    """Add ``--seeds`` (default ``seeds``), ``--threads`` and ``--jobs`` to ``parser``.

    For scripts whose work is one task per dataset and seed (:func:`run_tasks`).
    """
    parser.add_argument("--seeds", nargs="+", type=int, default=list(seeds))
    parser.add_argument("--threads", type=int, default=1, help="torch threads per job")
    parser.add_argument(
        "--jobs", type=int, default=1, help="(dataset, seed) tasks run in parallel"
    )


def run_tasks(run_task, args):
    """Run ``run_task((name, seed, args))`` for every dataset and seed asked for.

    Prints the machine line first; ``args.jobs`` processes (spawned, each with
    ``args.threads`` torch threads) share the tasks. Returns the results in
    the order of ``args.datasets``, then ``args.seeds``.
    """
    torch.set_num_threads(args.threads)
    print(f"# {machine_line()}", flush=True)
    tasks = [(name, seed, args) for name in args.datasets for seed in args.seeds]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(run_task, tasks))


def longest_first(datasets):
    """``datasets`` with the slow 384-feature check first, for parallel jobs.

    Started last, its tasks would leave one job running alone at the end.
    """
    return sorted(datasets, key=lambda name: name != HIGHDIM)


def save_figure(fig, path):
    """Lay out ``fig``, write it to ``path`` as every benchmark figure is, and close it.

    The PNG's ``Description`` holds the stamp (:func:`stamp`).
    """
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Description": stamp_csv(stamp())[2:]})
    plt.close(fig)


def make_highdim(n_samples=8192, n_features=384, n_latent=10, random_state=0):
    """A synthetic stand-in for the paper's CTScan set (384 correlated features).

    The rows live near a ``n_latent``-dimensional subspace of the
    ``n_features``-dimensional input, as CT-slice descriptors do, and the target is
    a smooth nonlinear function of the latent coordinates. A teacher trained on
    such rows is queried far off its data by N(0, I) inputs, which is where the
    query strategy matters most. Fixed data (``random_state``); the split still
    follows the protocol's ``seed``.
    """
    rng = np.random.default_rng(random_state)
    Z = rng.standard_normal((n_samples, n_latent))
    A = rng.standard_normal((n_latent, n_features)) / np.sqrt(n_latent)
    X = Z @ A + 0.3 * rng.standard_normal((n_samples, n_features))
    y = (
        np.sin(2 * Z[:, 0])
        + Z[:, 1] * Z[:, 2]
        + 0.5 * Z[:, 3] ** 2
        + 0.3 * Z[:, 4]
        + 0.1 * rng.standard_normal(n_samples)
    )
    return X, y


def make_noise_inputs(name, n_samples=8192, random_state=0):
    """A synthetic set whose irrelevant inputs are known (``NOISE_INPUTS``).

    ``friedman1_5``, ``friedman1`` and ``friedman1_30``: Friedman's first
    function of 5 inputs (noise 1) with 0, 5 or 25 more inputs that do not
    bear on it; ``sparse_linear``: a linear target of the first 5 of 20
    Gaussian inputs (``make_regression``, noise 10). Fixed data
    (``random_state``); the split still follows the protocol's ``seed``.
    """
    from sklearn.datasets import make_friedman1, make_regression

    if name.startswith("friedman1"):
        n_features = {"friedman1_5": 5, "friedman1": 10, "friedman1_30": 30}[name]
        return make_friedman1(
            n_samples, n_features=n_features, noise=1.0, random_state=random_state
        )
    if name == "sparse_linear":
        return make_regression(
            n_samples,
            n_features=20,
            n_informative=5,
            noise=10.0,
            shuffle=False,
            random_state=random_state,
        )
    raise ValueError(f"unknown synthetic set {name!r}")


def load_split(data_dir, name, seed):
    """Return standardised (X_train, y_train, X_val, y_val, X_test, y_test).

    ``name`` is a ``.npz`` file in ``data_dir``, ``"highdim384"`` for the
    synthetic high-dimensional check (:func:`make_highdim`), or one of the
    synthetic sets with known irrelevant inputs (:func:`make_noise_inputs`).
    """
    if name == HIGHDIM:
        X, y = make_highdim()
    elif name in NOISE_INPUTS:
        X, y = make_noise_inputs(name)
    else:
        data = np.load(Path(data_dir) / f"{name}.npz", allow_pickle=False)
        X, y = data["X"], data["y"]
    X = StandardScaler().fit_transform(np.asarray(X, dtype=np.float64))
    y = StandardScaler().fit_transform(np.reshape(y, (-1, 1))).ravel()
    X_train, X_rest, y_train, y_rest = train_test_split(
        X, y, train_size=5000, random_state=seed
    )
    X_val, X_test, y_val, y_test = train_test_split(
        X_rest, y_rest, train_size=0.1, random_state=seed
    )
    f32 = np.float32
    return (
        X_train.astype(f32),
        y_train,
        X_val.astype(f32),
        y_val,
        X_test.astype(f32),
        y_test,
    )


def mlp(n_features, hidden):
    return nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))


def _rmse(module, X, y):
    with torch.no_grad():
        pred = module(torch.as_tensor(X)).numpy().ravel()
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def train_teacher(X_train, y_train, X_val, y_val, seed, max_epochs=500, patience=50):
    """Train the published 500-unit tanh teacher; return (module, epochs, seconds)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = mlp(X_train.shape[1], 500)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5)
    X = torch.as_tensor(X_train)
    y = torch.as_tensor(y_train, dtype=torch.float32).reshape(-1, 1)
    best, best_state, misses, start = np.inf, None, 0, time.perf_counter()
    for epoch in range(max_epochs):
        perm = torch.randperm(X.shape[0], generator=gen)
        for i in range(0, X.shape[0], 16):
            idx = perm[i : i + 16]
            opt.zero_grad()
            loss = ((model(X[idx]) - y[idx]) ** 2).mean()
            loss.backward()
            opt.step()
        val = _rmse(model, X_val, y_val) ** 2
        sched.step(val)
        if val < best:
            best, best_state, misses = val, copy.deepcopy(model.state_dict()), 0
        else:
            misses += 1
            if misses >= patience:
                break
    model.load_state_dict(best_state)
    return model.eval(), epoch + 1, time.perf_counter() - start


def teacher_for(data_dir, name, seed):
    """Return (teacher module, split) for a dataset and seed, training it once."""
    split = load_split(data_dir, name, seed)
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"teacher_{name}_seed{seed}.pt"
    model = mlp(split[0].shape[1], 500)
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
    else:
        model, epochs, seconds = train_teacher(*split[:4], seed=seed)
        print(f"# trained teacher {name} seed {seed}: {epochs} epochs, {seconds:.0f} s")
        torch.save(model.state_dict(), path)
    return model.eval().requires_grad_(False), split


def rmse(pred, target):
    return float(np.sqrt(np.mean((np.ravel(pred) - np.ravel(target)) ** 2)))


def machine_line():
    load = os.getloadavg()
    return (
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"cpus {os.cpu_count()}, load avg {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def _git_commit():
    """The short commit of the code that ran, ``-dirty`` if tracked code differs.

    Results files under ``benchmarks/results`` do not count: a run rewrites them.
    """
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD")
        changed = git(
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":(exclude)benchmarks/results",
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("-dirty" if changed else "")


def _cpu():
    """The CPU model and whether it has native bfloat16, from ``/proc/cpuinfo``."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in info.splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in info.splitlines()
            if line.startswith("flags")
        ),
        [],
    )
    bf16 = [flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags]
    native = ", ".join(bf16) if bf16 else "no native bfloat16"
    return f"{model} ({native})"


def stamp():
    """What made a results file: commit, version, machine, torch, load and command.

    An ordered dict of strings, written at the top of every results file
    (:func:`write_markdown`, :func:`write_csv`). The load average is the one at
    the time of writing, the end of the run.
    """
    import skdistill

    load = os.getloadavg()
    root = Path(__file__).resolve().parent.parent
    script = Path(sys.argv[0]).resolve()
    script = script.relative_to(root) if root in script.parents else script
    version = skdistill.__version__
    package = Path(skdistill.__file__).resolve().parent
    if root not in package.parents:
        version += f" (imported from {package}, not this checkout)"
    return {
        "commit": _git_commit(),
        "version": version,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"
        ),
        "machine": f"{platform.platform()}, {_cpu()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "torch_threads": str(torch.get_num_threads()),
        "loadavg": f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        "command": "python " + shlex.join([str(script), *sys.argv[1:]]),
    }


def stamp_markdown(fields):
    """The stamp as the short block that opens a results ``.md`` file."""
    return (
        f"- commit: `{fields['commit']}`, skdistill {fields['version']}, "
        f"{fields['date']}\n"
        f"- machine: {fields['machine']}\n"
        f"- torch {fields['torch']}, {fields['torch_threads']} thread(s); "
        f"load average at the end {fields['loadavg']}\n"
        f"- command: `{fields['command']}`\n"
    )


def stamp_csv(fields):
    """The stamp as the ``#`` comment line that opens a results ``.csv`` file.

    ``key=value`` pairs, values quoted as the shell would (``shlex.split`` reads
    them back); readers skip the line (``pandas.read_csv(path, comment="#")``).
    """
    return "# " + " ".join(
        f"{key}={shlex.quote(value)}" for key, value in fields.items()
    )


def median_seconds(fn, repeats=5):
    """Median wall time of ``repeats`` calls of ``fn``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def write_csv(out, header, rows):
    """Write the stamp, ``header`` and ``rows`` (sequences of values) to ``OUT.csv``."""
    path = Path(out).with_suffix(".csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        f.write(stamp_csv(stamp()) + writer.dialect.lineterminator)
        writer.writerow(header)
        writer.writerows(rows)


def write_markdown(out, table, preamble=""):
    """Write the stamp, then ``preamble`` and ``table``, to ``OUT.md``."""
    path = Path(out).with_suffix(".md")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(stamp_markdown(stamp()) + "\n" + preamble + table + "\n")
