"""Compression report: what distillation bought (size, speed) and what it cost (fidelity)."""

import dataclasses
import pickle
import time

import numpy as np
import torch
from sklearn.metrics import r2_score

from ._estimator import _check_fitted_distiller
from ._scoring import _predict_both

__all__ = ["CompressionReport", "compression_report"]


@dataclasses.dataclass(frozen=True, repr=False)
class CompressionReport:
    """Teacher vs student on the same rows: size, parameters, latency, fidelity.

    Made by :func:`compression_report`. ``str(report)`` and ``repr(report)``
    are a small table; :meth:`to_dict` gives every field, and the derived
    ``size_ratio`` and ``speedup``, as a plain dict (e.g. for JSON or a
    pandas row).

    Attributes
    ----------
    teacher_name : str
        Class name of the teacher.
    n_rows : int
        Rows the latency and fidelity were measured on.
    n_repeats : int
        Timed ``predict`` calls per model; latencies are their median.
    teacher_bytes, student_bytes : int or None
        Pickled size (``len(pickle.dumps(...))``) of the teacher and of the
        fitted skorch student ``student_`` (what a deployment that pickles
        or joblib-dumps it ships); None when the teacher cannot be pickled.
    teacher_n_parameters, student_n_parameters : int or None
        Trainable numbers: the student's weights, and the teacher's where
        that is meaningful (torch and skorch networks, ``MLPRegressor``,
        linear models); None otherwise (e.g. tree ensembles).
    teacher_latency, student_latency : float
        Median seconds of one ``predict`` call on all ``n_rows`` rows.
    r2 : float
        R² of the student's predictions against the teacher's (mean over
        outputs).
    rmse : float
        Root mean squared difference, in the teacher's units.
    max_abs_error : float
        Largest absolute difference, in the teacher's units.
    """

    teacher_name: str
    n_rows: int
    n_repeats: int
    teacher_bytes: int | None
    student_bytes: int
    teacher_n_parameters: int | None
    student_n_parameters: int
    teacher_latency: float
    student_latency: float
    r2: float
    rmse: float
    max_abs_error: float

    @property
    def size_ratio(self):
        """Teacher bytes per student byte (None without the teacher's size)."""
        if self.teacher_bytes is None or not self.student_bytes:
            return None
        return self.teacher_bytes / self.student_bytes

    @property
    def speedup(self):
        """Teacher latency over student latency."""
        if self.student_latency <= 0:
            return None
        return self.teacher_latency / self.student_latency

    def to_dict(self):
        """Return the fields and the derived ``size_ratio`` and ``speedup``.

        Returns
        -------
        report : dict
            Plain Python values, ready for ``json.dumps``.
        """
        return {
            **dataclasses.asdict(self),
            "size_ratio": self.size_ratio,
            "speedup": self.speedup,
        }

    def __str__(self):
        size_ratio = self.size_ratio
        speedup = self.speedup
        rows = [
            (
                "pickled size",
                _format_bytes(self.teacher_bytes),
                _format_bytes(self.student_bytes),
                _format_ratio(size_ratio, "smaller", "larger"),
            ),
            (
                "parameters",
                _format_count(self.teacher_n_parameters),
                _format_count(self.student_n_parameters),
                "",
            ),
            (
                "predict latency",
                _format_seconds(self.teacher_latency),
                _format_seconds(self.student_latency),
                _format_ratio(speedup, "faster", "slower"),
            ),
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        widths[1] = max(widths[1], len("teacher"))
        widths[2] = max(widths[2], len("student"))
        lines = [
            f"Compression report: {self.teacher_name} -> student, {self.n_rows:,} "
            f"rows, median of {self.n_repeats} predict calls",
            f"  {'':<{widths[0]}}  {'teacher':>{widths[1]}}  {'student':>{widths[2]}}",
        ]
        for name, teacher, student, ratio in rows:
            lines.append(
                f"  {name:<{widths[0]}}  {teacher:>{widths[1]}}  "
                f"{student:>{widths[2]}}  {ratio}".rstrip()
            )
        lines.append(
            f"  {'fidelity':<{widths[0]}}  R² {self.r2:.4f}, RMSE {self.rmse:.4g}, "
            f"max abs error {self.max_abs_error:.4g} (student vs teacher)"
        )
        return "\n".join(lines)

    __repr__ = __str__


def compression_report(distiller, X, *, n_repeats=7):
    """Compare a fitted distiller's student with its teacher on the rows ``X``.

    Both models predict all of ``X`` once to warm up (those predictions give
    the fidelity), then ``n_repeats`` more times, timed; latencies are the
    medians. The teacher is called as the distiller queries it (its
    ``predict``, or its module's forward pass for torch and skorch
    teachers); the student through :meth:`DataFreeDistillRegressor.predict`.

    Parameters
    ----------
    distiller : DataFreeDistillRegressor
        A fitted distiller.
    X : array-like or DataFrame of shape (n_samples, n_features)
        Rows in the teacher's units, as
        :meth:`DataFreeDistillRegressor.predict` takes them (a DataFrame for
        a teacher fitted on one); unlabelled rows are enough.
    n_repeats : int, default=7
        Timed calls per model.

    Returns
    -------
    report : CompressionReport
        Sizes, parameter counts, latencies and fidelity.

    See Also
    --------
    fidelity_score : The R² alone.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from skdistill import DataFreeDistillRegressor, compression_report
    >>> X, y = make_friedman1(n_samples=300, random_state=0)
    >>> teacher = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    >>> distiller = DataFreeDistillRegressor(
    ...     teacher, max_queries=20_000, random_state=0
    ... ).fit(X)
    >>> report = compression_report(distiller, X, n_repeats=3)
    >>> report.size_ratio > 10
    True
    >>> sorted(report.to_dict())[:3]
    ['max_abs_error', 'n_repeats', 'n_rows']
    """
    _check_fitted_distiller(distiller, "compression_report")
    if not (isinstance(n_repeats, int | np.integer) and n_repeats >= 1):
        raise ValueError(f"n_repeats must be a positive integer; got {n_repeats!r}.")

    y_teacher, y_student, predict_teacher = _predict_both(distiller, X)
    module = distiller.student_.module_
    error = y_student - y_teacher
    return CompressionReport(
        teacher_name=type(distiller.teacher).__name__,
        n_rows=int(y_teacher.shape[0]),
        n_repeats=int(n_repeats),
        teacher_bytes=_pickled_bytes(distiller.teacher),
        student_bytes=_pickled_bytes(distiller.student_),
        teacher_n_parameters=_n_parameters(distiller.teacher),
        student_n_parameters=_n_parameters(module),
        teacher_latency=_median_seconds(predict_teacher, n_repeats),
        student_latency=_median_seconds(lambda: distiller.predict(X), n_repeats),
        r2=float(r2_score(y_teacher, y_student)),
        rmse=float(np.sqrt(np.mean(error**2))),
        max_abs_error=float(np.max(np.abs(error))),
    )


def _median_seconds(fn, n_repeats):
    times = []
    for _ in range(n_repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _pickled_bytes(obj):
    try:
        return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception:  # lambdas, open handles, ...: size unknown, not an error
        return None


def _n_parameters(model):
    """Trainable numbers of a network or linear model; None where not meaningful."""
    from skorch import NeuralNet

    if isinstance(model, NeuralNet):
        model = getattr(model, "module_", None)
    if isinstance(model, torch.nn.Module):
        return int(sum(p.numel() for p in model.parameters()))
    # Unwrap a Pipeline (its last step) or a FrozenEstimator.
    if hasattr(model, "steps"):
        return _n_parameters(model.steps[-1][1])
    if type(model).__name__ == "FrozenEstimator":
        return _n_parameters(model.estimator)
    if hasattr(model, "coefs_") and hasattr(model, "intercepts_"):  # MLPRegressor
        return int(sum(np.size(a) for a in (*model.coefs_, *model.intercepts_)))
    if hasattr(model, "coef_") and not hasattr(model, "estimators_"):
        return int(np.size(model.coef_) + np.size(getattr(model, "intercept_", 0)))
    return None


def _format_bytes(n):
    if n is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def _format_count(n):
    return "-" if n is None else f"{n:,}"


def _format_seconds(seconds):
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def _format_ratio(ratio, better, worse):
    if ratio is None:
        return "-"
    word = better if ratio >= 1 else worse
    ratio = ratio if ratio >= 1 else 1 / ratio
    return f"{ratio:,.0f}x {word}" if ratio >= 10 else f"{ratio:.2g}x {word}"
