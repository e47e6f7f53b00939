"""Plots, following scikit-learn's Display API (``from_estimator``, ``plot(ax=...)``).

matplotlib is an optional dependency: ``python -m pip install 'skdistill[plot]'``.
"""

import numpy as np
from sklearn.metrics import r2_score
from sklearn.utils import check_random_state

from ._estimator import _check_fitted_distiller
from ._scoring import _predict_both

__all__ = ["DistillationCurveDisplay", "TeacherStudentDisplay"]

_METRICS = {
    # history key: (axis label, short name for the legend, greater is better)
    "holdout_r2": ("Hold-out fidelity R² (student vs teacher)", "R²", True),
    "holdout_rmse": (
        "Hold-out RMSE, student vs teacher (teacher units)",
        "RMSE",
        False,
    ),
    "holdout_loss": ("Hold-out loss (standardised MSE)", "loss", False),
}


def _check_matplotlib(caller):
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} needs matplotlib: python -m pip install 'skdistill[plot]'"
        ) from exc


def _strategy_name(estimator):
    strategy = estimator.query_strategy
    return strategy if isinstance(strategy, str) else type(strategy).__name__


def _short_count(n):
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:.0f}"


class DistillationCurveDisplay:
    """Distillation curve: hold-out fidelity against teacher queries spent.

    One line per fitted distiller, from its ``history_``; the round whose
    student was kept (lowest hold-out loss) is marked. To compare query
    strategies, plot several distillers on the same axes: each call to
    :meth:`from_estimator` or :meth:`plot` with ``ax=display.ax_`` adds a
    line, named by default after the distiller's ``query_strategy``.

    Parameters
    ----------
    n_queries : array-like of shape (n_rounds,)
        Teacher queries spent at the end of each round.
    scores : array-like of shape (n_rounds,)
        The metric after each round.
    metric : {"holdout_r2", "holdout_rmse", "holdout_loss"}, default="holdout_r2"
        What ``scores`` are.
    best_index : int, default=None
        Index of the kept round, marked on the curve; ``None`` marks none.
    name : str, default=None
        Legend label of the line.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The curve.
    best_marker_ : matplotlib.lines.Line2D or None
        The marker on the kept round.
    ax_ : matplotlib.axes.Axes
        Axes with the curve.
    figure_ : matplotlib.figure.Figure
        Figure containing the curve.

    See Also
    --------
    TeacherStudentDisplay : Student vs teacher predictions on given rows.

    Examples
    --------
    >>> import matplotlib.pyplot as plt  # doctest: +SKIP
    >>> from skdistill import DistillationCurveDisplay  # doctest: +SKIP
    >>> disp = DistillationCurveDisplay.from_estimator(bounded_gap)  # doctest: +SKIP
    >>> DistillationCurveDisplay.from_estimator(
    ...     gaussian, ax=disp.ax_
    ... )  # doctest: +SKIP
    >>> plt.show()  # doctest: +SKIP
    """

    def __init__(
        self, *, n_queries, scores, metric="holdout_r2", best_index=None, name=None
    ):
        if metric not in _METRICS:
            raise ValueError(
                f"metric must be one of {sorted(_METRICS)}; got {metric!r}."
            )
        self.n_queries = np.asarray(n_queries)
        self.scores = np.asarray(scores, dtype=np.float64)
        if self.n_queries.shape != self.scores.shape or self.scores.ndim != 1:
            raise ValueError(
                "n_queries and scores must be 1-D arrays of the same length; got "
                f"shapes {self.n_queries.shape} and {self.scores.shape}."
            )
        self.metric = metric
        self.best_index = best_index
        self.name = name

    @classmethod
    def from_estimator(
        cls, estimator, *, metric="holdout_r2", name=None, ax=None, **kwargs
    ):
        """Plot the distillation curve of a fitted distiller.

        Parameters
        ----------
        estimator : DataFreeDistillRegressor
            A fitted distiller.
        metric : {"holdout_r2", "holdout_rmse", "holdout_loss"}, \
default="holdout_r2"
            Which per-round hold-out measurement to plot.
        name : str, default=None
            Legend label; ``None`` uses the query strategy's name.
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on, e.g. another display's ``ax_`` to compare
            strategies; ``None`` makes a new figure.
        **kwargs : dict
            Passed to matplotlib's ``plot`` for the curve.

        Returns
        -------
        display : DistillationCurveDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        _check_fitted_distiller(estimator, f"{cls.__name__}.from_estimator")
        history = estimator.history_
        n_queries = np.asarray(history[:, "n_queries"])
        scores = np.asarray(history[:, metric], dtype=np.float64)
        losses = np.asarray(history[:, "holdout_loss"], dtype=np.float64)
        display = cls(
            n_queries=n_queries,
            scores=scores,
            metric=metric,
            best_index=int(np.argmin(losses)) if len(losses) else None,
            name=_strategy_name(estimator) if name is None else name,
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, ax=None, *, name=None, **kwargs):
        """Plot the curve.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; ``None`` makes a new figure.
        name : str, default=None
            Legend label; ``None`` uses ``self.name``.
        **kwargs : dict
            Passed to matplotlib's ``plot`` for the curve.

        Returns
        -------
        display : DistillationCurveDisplay
            ``self``, with ``line_``, ``best_marker_``, ``ax_`` and
            ``figure_`` set.
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import EngFormatter

        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
        name = self.name if name is None else name
        axis_label, short, _ = _METRICS[self.metric]
        label = name
        if self.best_index is not None:
            kept = self.scores[self.best_index]
            kept_at = _short_count(self.n_queries[self.best_index])
            value = f"{kept:.4f}" if self.metric == "holdout_r2" else f"{kept:.4g}"
            kept_text = f"kept: {short} {value} at {kept_at} queries"
            label = kept_text if name is None else f"{name} ({kept_text})"
        line_kwargs = {"linewidth": 1.8, "label": label, **kwargs}
        (self.line_,) = ax.plot(self.n_queries, self.scores, **line_kwargs)
        self.best_marker_ = None
        if self.best_index is not None:
            (self.best_marker_,) = ax.plot(
                self.n_queries[self.best_index],
                self.scores[self.best_index],
                marker="o",
                markersize=7,
                linestyle="none",
                color=self.line_.get_color(),
                label="_nolegend_",
            )
        ax.set_xlabel("Teacher queries")
        ax.set_ylabel(axis_label)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))
        if self.metric == "holdout_r2":
            self._limit_r2_axis(ax)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right" if self.metric == "holdout_r2" else "upper right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @staticmethod
    def _limit_r2_axis(ax):
        """Keep very negative early R² from flattening the rest of the curves.

        R² is unbounded below: a first round at -20 would squash the part of
        every curve that matters into a line at the top. When some value is
        negative the axis stops a little below zero, or below the lowest
        value of the curves' last three quarters if that is lower.
        """
        curves = [
            np.asarray(line.get_ydata(), dtype=np.float64)
            for line in ax.get_lines()
            if len(line.get_ydata()) > 1
        ]
        values = np.concatenate(curves)
        values = values[np.isfinite(values)]
        if not len(values) or values.min() >= 0:
            return
        tails = np.concatenate([curve[len(curve) // 4 :] for curve in curves])
        bottom = min(float(np.nanmin(tails)), 0.0)
        top = min(float(values.max()), 1.0)
        pad = 0.05 * max(top - bottom, 0.02)
        ax.set_ylim(max(bottom - pad, float(values.min()) - pad), top + pad)


class TeacherStudentDisplay:
    """Student predictions against teacher predictions on the same rows.

    A perfect copy puts every point on the dashed ``y = x`` line; the legend
    gives the R² of the student against the teacher (the fidelity) on all
    rows, also when only a subsample is drawn.

    Parameters
    ----------
    y_teacher : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Teacher predictions.
    y_student : array-like of the same shape
        Student predictions.
    r2 : float, default=None
        Fidelity R² to show; ``None`` computes it from the two arrays.
    name : str, default=None
        Name shown in the legend beside the R².

    Attributes
    ----------
    scatter_ : matplotlib.collections.PathCollection
        The points.
    line_ : matplotlib.lines.Line2D
        The ``y = x`` line.
    ax_ : matplotlib.axes.Axes
        Axes with the plot.
    figure_ : matplotlib.figure.Figure
        Figure containing the plot.

    See Also
    --------
    DistillationCurveDisplay : Fidelity during distillation.
    fidelity_score : The R² alone.

    Examples
    --------
    >>> from skdistill import TeacherStudentDisplay  # doctest: +SKIP
    >>> TeacherStudentDisplay.from_estimator(distiller, X_test)  # doctest: +SKIP
    """

    def __init__(self, *, y_teacher, y_student, r2=None, name=None):
        self.y_teacher = np.asarray(y_teacher, dtype=np.float64)
        self.y_student = np.asarray(y_student, dtype=np.float64)
        if self.y_teacher.shape != self.y_student.shape:
            raise ValueError(
                "y_teacher and y_student must have the same shape; got "
                f"{self.y_teacher.shape} and {self.y_student.shape}."
            )
        self.r2 = float(r2_score(self.y_teacher, self.y_student)) if r2 is None else r2
        self.name = name

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        subsample=1_000,
        random_state=None,
        name=None,
        ax=None,
        scatter_kwargs=None,
        line_kwargs=None,
    ):
        """Plot a fitted distiller's student against its teacher on the rows ``X``.

        Parameters
        ----------
        estimator : DataFreeDistillRegressor
            A fitted distiller.
        X : array-like or DataFrame of shape (n_samples, n_features)
            Rows in the teacher's units, as
            :meth:`DataFreeDistillRegressor.predict` takes them (a DataFrame
            for a teacher fitted on one); no labels needed.
        subsample : int, float or None, default=1_000
            Points drawn: an int is a count, a float in (0, 1) a fraction,
            ``None`` all rows. The R² always uses all rows.
        random_state : int, RandomState instance or None, default=None
            Which rows are drawn when subsampling.
        name : str, default=None
            Name shown in the legend.
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; ``None`` makes a new figure.
        scatter_kwargs : dict, default=None
            Passed to matplotlib's ``scatter``.
        line_kwargs : dict, default=None
            Passed to matplotlib's ``plot`` for the ``y = x`` line.

        Returns
        -------
        display : TeacherStudentDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        _check_fitted_distiller(estimator, f"{cls.__name__}.from_estimator")
        y_teacher, y_student, _ = _predict_both(estimator, X)
        if estimator._teacher_output_1d:
            y_teacher, y_student = y_teacher.ravel(), y_student.ravel()
        return cls.from_predictions(
            y_teacher,
            y_student,
            subsample=subsample,
            random_state=random_state,
            name=name,
            ax=ax,
            scatter_kwargs=scatter_kwargs,
            line_kwargs=line_kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_teacher,
        y_student,
        *,
        subsample=1_000,
        random_state=None,
        name=None,
        ax=None,
        scatter_kwargs=None,
        line_kwargs=None,
    ):
        """Plot given student predictions against given teacher predictions.

        Parameters
        ----------
        y_teacher : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Teacher predictions.
        y_student : array-like of the same shape
            Student predictions.
        subsample : int, float or None, default=1_000
            Points drawn: an int is a count, a float in (0, 1) a fraction,
            ``None`` all rows. The R² always uses all rows.
        random_state : int, RandomState instance or None, default=None
            Which rows are drawn when subsampling.
        name : str, default=None
            Name shown in the legend.
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; ``None`` makes a new figure.
        scatter_kwargs : dict, default=None
            Passed to matplotlib's ``scatter``.
        line_kwargs : dict, default=None
            Passed to matplotlib's ``plot`` for the ``y = x`` line.

        Returns
        -------
        display : TeacherStudentDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_predictions")
        y_teacher = np.asarray(y_teacher, dtype=np.float64)
        y_student = np.asarray(y_student, dtype=np.float64)
        r2 = float(r2_score(y_teacher, y_student))
        n = y_teacher.shape[0]
        if subsample is not None:
            if isinstance(subsample, float):
                if not 0 < subsample < 1:
                    raise ValueError(
                        f"A float subsample must be in (0, 1); got {subsample}."
                    )
                subsample = max(int(subsample * n), 1)
            elif not (isinstance(subsample, int | np.integer) and subsample > 0):
                raise ValueError(
                    "subsample must be a positive int, a float in (0, 1) or None; "
                    f"got {subsample!r}."
                )
            if subsample < n:
                rows = check_random_state(random_state).choice(
                    n, subsample, replace=False
                )
                y_teacher, y_student = y_teacher[rows], y_student[rows]
        display = cls(y_teacher=y_teacher, y_student=y_student, r2=r2, name=name)
        return display.plot(
            ax=ax, scatter_kwargs=scatter_kwargs, line_kwargs=line_kwargs
        )

    def plot(self, ax=None, *, name=None, scatter_kwargs=None, line_kwargs=None):
        """Plot the points and the ``y = x`` line.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to plot on; ``None`` makes a new figure.
        name : str, default=None
            Name shown in the legend; ``None`` uses ``self.name``.
        scatter_kwargs : dict, default=None
            Passed to matplotlib's ``scatter``.
        line_kwargs : dict, default=None
            Passed to matplotlib's ``plot`` for the ``y = x`` line.

        Returns
        -------
        display : TeacherStudentDisplay
            ``self``, with ``scatter_``, ``line_``, ``ax_`` and ``figure_``
            set.
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(5.2, 5.0), layout="constrained")
        name = self.name if name is None else name
        y_teacher, y_student = self.y_teacher.ravel(), self.y_student.ravel()
        low = float(min(y_teacher.min(), y_student.min()))
        high = float(max(y_teacher.max(), y_student.max()))
        pad = 0.03 * (high - low or 1.0)
        low, high = low - pad, high + pad

        label = f"R² = {self.r2:.4f}" if name is None else f"{name}: R² = {self.r2:.4f}"
        many = y_teacher.size > 300
        scatter_kwargs = {
            "s": 10 if many else 18,
            "alpha": 0.45 if many else 0.75,
            "linewidths": 0,
            "label": label,
            **(scatter_kwargs or {}),
        }
        line_kwargs = {
            "color": "black",
            "alpha": 0.7,
            "linestyle": "--",
            "linewidth": 1.2,
            "label": "y = x (perfect copy)",
            **(line_kwargs or {}),
        }
        (self.line_,) = ax.plot([low, high], [low, high], **line_kwargs)
        self.scatter_ = ax.scatter(y_teacher, y_student, **scatter_kwargs)
        ax.set_xlim(low, high)
        ax.set_ylim(low, high)
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("Teacher prediction")
        ax.set_ylabel("Student prediction")
        ax.grid(True, alpha=0.3)
        legend = ax.legend(loc="upper left")
        for handle in getattr(legend, "legend_handles", []):
            handle.set_alpha(1)  # faint points, readable legend
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
