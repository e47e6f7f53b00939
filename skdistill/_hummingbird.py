"""Tree teachers as tensors: sklearn tree ensembles compiled to torch by hummingbird.

A fitted forest or boosting model can be converted once, with the optional
``hummingbird-ml`` package, into a torch module that answers queries on the
distiller's device without a numpy round trip. The conversion is trusted only
after it reproduces ``predict`` on a probe batch, and used only where it is
measured to be faster than ``predict`` on the machine at hand: on CPU,
scikit-learn's own tree code usually wins.
"""

import math
import time
import warnings
import weakref

import numpy as np
import torch
from sklearn.ensemble import (
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
    RandomForestRegressor,
)
from sklearn.tree import DecisionTreeRegressor

__all__ = ["TEACHER_BACKENDS", "compile_tree_teacher"]

TEACHER_BACKENDS = ("auto", "predict", "hummingbird")

_SUPPORTED_TREES = (
    DecisionTreeRegressor,
    RandomForestRegressor,
    ExtraTreesRegressor,
    GradientBoostingRegressor,
    HistGradientBoostingRegressor,
)
_INSTALL_HINT = "pip install 'skdistill[trees]' (or pip install hummingbird-ml)"

# Agreement with predict, relative to the largest |output| of each output
# column: float32 sums over hundreds of trees differ from sklearn's float64
# sums by ~1e-7 of that scale, while a wrongly converted model (a missing
# link function, misread categories) is off by far more than 1e-4 of it.
_RTOL = 1e-4
# ... on all but this share of the probe rows. The conversion compares float32
# inputs with float32-rounded split thresholds, where sklearn keeps float64
# thresholds: an input within one rounding of a split takes the other branch
# in that tree, on a few rows in thousands. A wrong conversion misses on most
# rows, not a few.
_MAX_MISMATCH = 0.01

# Throughput is timed on at least this many rows (the probe, tiled), close to
# the batches a round sends to the teacher; per-call overheads dominate below.
_MIN_TIMING_ROWS = 2048
_TIMING_REPEATS = 3
_TIMING_SECONDS = 2.0  # stop repeating once this much has been spent timing

# The auto choice, per teacher object and device: timing is noisy, and two fits
# of the same teacher in one process should label along the same path (the two
# agree only to float32 rounding). Weak keys: the cache never keeps a teacher
# alive. Only the decision is kept, never the converted model (its memory).
_AUTO_DECISIONS = weakref.WeakKeyDictionary()


def compile_tree_teacher(estimator, probe_x, reference, predict, backend="auto"):
    """Return the fastest verified way to query a tree teacher, and why.

    Parameters
    ----------
    estimator : fitted scikit-learn regressor
        The teacher. Only the tree ensembles in ``_SUPPORTED_TREES`` are
        converted; anything else keeps ``predict``.
    probe_x : torch.Tensor of shape (n, n_features)
        Float32 queries on the device the converted model should run on.
    reference : torch.Tensor of shape (n, n_outputs)
        The teacher's ``predict`` on ``probe_x`` (already paid for), which the
        converted model must reproduce.
    predict : callable
        The ``predict`` path, mapping a query tensor to a label tensor without
        counting queries; it is timed against the converted model.
    backend : {"auto", "predict", "hummingbird"}, default="auto"
        ``"predict"`` never converts; ``"hummingbird"`` requires a verified
        conversion and raises otherwise; ``"auto"`` converts when possible and
        keeps whichever verified path is faster.

    Returns
    -------
    query : callable or None
        Maps float32 queries of shape (n, n_features) on any device to float32
        labels of shape (n, n_outputs) on the same device; ``None`` means keep
        ``predict``.
    record : dict
        ``path`` ("predict" or "hummingbird"), ``reason``, ``rows_per_s``
        (measured throughput of each timed path), ``max_abs_diff`` and
        ``mismatch_fraction`` (converted vs predict on the probe: the largest
        difference, and the share of rows beyond the tolerance; None when
        nothing was converted) and ``convert_seconds``.
    """
    record = {
        "path": "predict",
        "reason": "",
        "rows_per_s": {},
        "max_abs_diff": None,
        "mismatch_fraction": None,
        "convert_seconds": None,
    }
    name = type(estimator).__name__
    if backend == "predict":
        record["reason"] = "teacher_backend='predict'"
        return None, record

    if not isinstance(estimator, _SUPPORTED_TREES):
        supported = ", ".join(cls.__name__ for cls in _SUPPORTED_TREES)
        if backend == "hummingbird":
            raise ValueError(
                "teacher_backend='hummingbird' converts the tree ensembles "
                f"{supported}; the teacher is a {name}. Use teacher_backend='auto' "
                "or 'predict'."
            )
        record["reason"] = f"{name} is not a tree ensemble hummingbird converts here"
        return None, record

    try:
        import hummingbird.ml as hb
    except Exception as exc:  # not installed, or broken by its own dependencies
        if backend == "hummingbird":
            raise ImportError(
                "teacher_backend='hummingbird' needs the optional dependency "
                f"hummingbird-ml, which could not be imported ({type(exc).__name__}: "
                f"{exc}). Install it with {_INSTALL_HINT}, or use "
                "teacher_backend='auto'."
            ) from exc
        record["reason"] = f"hummingbird-ml is not importable ({type(exc).__name__})"
        return None, record

    device = probe_x.device
    key = (device.type, device.index)
    cached = None
    if backend == "auto":
        cached = _AUTO_DECISIONS.get(estimator, {}).get(key)
        if cached is not None and cached["path"] == "predict":
            # Converting only to time it again would cost seconds for nothing.
            return None, _reused(cached)

    start = time.perf_counter()
    try:
        # n_threads=None: otherwise convert() resets torch's global intra- and
        # inter-op thread counts for the whole process.
        with warnings.catch_warnings():
            # Raised inside hummingbird, about hummingbird's own code.
            warnings.filterwarnings(
                "ignore", message="Creating a tensor from a list", category=UserWarning
            )
            container = hb.convert(
                estimator, "torch", device=device.type, extra_config={"n_threads": None}
            )
        executor = container.model.to(device).eval()
    except Exception as exc:
        if backend == "hummingbird":
            raise ValueError(
                f"hummingbird could not convert the teacher {name} "
                f"({type(exc).__name__}: {exc}). Use teacher_backend='auto' or "
                "'predict'."
            ) from exc
        record["reason"] = f"hummingbird.ml.convert raised {type(exc).__name__}: {exc}"
        return None, record
    query = _CompiledTrees(executor, device, _rows_per_chunk(estimator))
    record["convert_seconds"] = time.perf_counter() - start

    # Verify before trusting: a conversion can run and still be wrong (e.g. a
    # link function it does not apply), and it would silently mislabel queries.
    try:
        converted = query(probe_x)
    except Exception as exc:
        if backend == "hummingbird":
            raise ValueError(
                f"The hummingbird conversion of the teacher {name} failed on the probe "
                f"batch ({type(exc).__name__}: {exc}). Use teacher_backend='auto' or "
                "'predict'."
            ) from exc
        record["reason"] = f"the converted model raised {type(exc).__name__}: {exc}"
        return None, record
    mismatch, max_abs_diff, tolerance = _agreement(converted, reference)
    record.update(max_abs_diff=max_abs_diff, mismatch_fraction=mismatch)
    if not mismatch <= _MAX_MISMATCH:
        message = (
            f"the hummingbird conversion of {name} disagrees with its predict on "
            f"{mismatch:.1%} of {reference.shape[0]} probe queries (by up to "
            f"{max_abs_diff:.3g}; tolerance {tolerance:.3g}, {_RTOL:g} of the output "
            f"scale, on all but {_MAX_MISMATCH:.0%} of them)"
        )
        if backend == "hummingbird":
            raise ValueError(
                f"teacher_backend='hummingbird': {message}. Use teacher_backend='auto' "
                "or 'predict'."
            )
        record["reason"] = message
        return None, record

    if cached is not None:  # a verified conversion that was faster before
        return query, {
            **_reused(cached),
            "max_abs_diff": max_abs_diff,
            "mismatch_fraction": mismatch,
        }

    timing_x = _tile(probe_x, _MIN_TIMING_ROWS)
    record["rows_per_s"] = _throughputs(
        {"predict": predict, "hummingbird": query}, timing_x
    )
    speed = record["rows_per_s"]
    faster = "hummingbird" if speed["hummingbird"] > speed["predict"] else "predict"
    summary = (
        f"hummingbird {speed['hummingbird']:,.0f} vs predict {speed['predict']:,.0f} "
        f"rows/s on {timing_x.shape[0]} queries on {device}"
    )
    if backend == "hummingbird":
        reason = f"teacher_backend='hummingbird'; measured {summary}"
        record.update(path="hummingbird", reason=reason)
        return query, record
    record.update(path=faster, reason=f"measured {summary}: {faster} is faster")
    _AUTO_DECISIONS.setdefault(estimator, {})[key] = dict(record)
    return (query if faster == "hummingbird" else None), record


class _CompiledTrees:
    """The converted model as a query function: device tensors in and out."""

    def __init__(self, executor, device, chunk_size):
        self.executor = executor
        self.device = device
        self.chunk_size = chunk_size

    def __call__(self, x):
        n = x.shape[0]
        out = []
        # no_grad, not inference_mode: the labels are later used (and stored)
        # by code running outside inference mode, like predict's labels.
        with torch.no_grad():
            for start in range(0, n, self.chunk_size):
                batch = x[start : start + self.chunk_size]
                labels = self.executor(batch.to(self.device, torch.float32))
                out.append(labels.reshape(batch.shape[0], -1))
        return torch.cat(out).to(x.device, torch.float32)


def _rows_per_chunk(estimator):
    # Tree traversal holds a few (rows x trees) index tensors at once: bound
    # them to ~2**24 entries (about 128 MiB each) so big forests fit in memory.
    if isinstance(estimator, HistGradientBoostingRegressor):
        n_trees = estimator.n_iter_
    else:
        n_trees = np.size(getattr(estimator, "estimators_", 1))
    return int(min(65536, max(1024, 2**24 // max(n_trees, 1))))


def _agreement(converted, reference):
    """Return the share of rows where converted and predict labels differ.

    Also returns the largest absolute difference and the largest tolerance.
    """
    if converted.shape != reference.shape:
        return 1.0, math.inf, 0.0
    diff = (converted - reference).abs()
    tolerance = _RTOL * reference.abs().amax(dim=0)
    # NaN differences compare False: a row where the conversion gives NaN
    # mismatches.
    mismatched = ~(diff <= tolerance).all(dim=1)
    max_abs_diff = float(diff.max()) if diff.numel() else 0.0
    return float(mismatched.float().mean()), max_abs_diff, float(tolerance.max())


def _tile(x, n_rows):
    """Return ``x`` repeated to at least ``n_rows`` rows."""
    if x.shape[0] >= n_rows:
        return x
    return x.repeat(-(-n_rows // x.shape[0]), 1)[:n_rows]


def _throughputs(paths, x):
    """Return the median rows per second of each path on ``x``."""

    def sync():  # CUDA calls return before the work is done
        if x.device.type == "cuda":
            torch.cuda.synchronize(x.device)

    for query in paths.values():  # warm-up: first calls allocate and spin up pools
        query(x)
    seconds = {name: [] for name in paths}
    started = time.perf_counter()
    for _ in range(_TIMING_REPEATS):
        # Interleaved, so a burst of load from another process hits both paths.
        for name, query in paths.items():
            sync()
            start = time.perf_counter()
            query(x)
            sync()
            seconds[name].append(time.perf_counter() - start)
        if time.perf_counter() - started > _TIMING_SECONDS:
            break
    return {
        name: x.shape[0] / max(float(np.median(times)), 1e-9)
        for name, times in seconds.items()
    }


def _reused(decision):
    record = dict(decision)
    record["reason"] = (
        f"{decision['reason']} (decided at an earlier fit with this teacher in this "
        "process)"
    )
    return record
