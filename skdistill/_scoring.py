"""Fidelity: how closely a distilled student copies its teacher, no labels needed."""

import numpy as np
import torch
from sklearn.metrics import r2_score
from sklearn.pipeline import Pipeline

from ._estimator import _check_fitted_distiller
from ._teachers import as_teacher

__all__ = ["fidelity_score", "fidelity_scorer"]


def fidelity_score(distiller, X, *, sample_weight=None):
    """Return the R² of the student's predictions against the teacher's on ``X``.

    Unlike :meth:`DataFreeDistillRegressor.score`, which compares the student
    with labels, this compares it with its teacher, so any unlabelled rows
    will do. Multi-output teachers give the mean R² over outputs.

    Parameters
    ----------
    distiller : DataFreeDistillRegressor or Pipeline
        A fitted distiller, or a fitted :class:`~sklearn.pipeline.Pipeline`
        whose last step is one (its earlier steps transform ``X`` first).
    X : array-like or DataFrame of shape (n_samples, n_features)
        Inputs to compare on, as :meth:`DataFreeDistillRegressor.predict`
        takes them.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows in the R².

    Returns
    -------
    score : float
        1.0 when the student reproduces the teacher exactly on ``X``.

    See Also
    --------
    fidelity_scorer : The same, as a scorer for ``scoring=``.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from skdistill import DataFreeDistillRegressor, fidelity_score
    >>> X, y = make_friedman1(n_samples=300, random_state=0)
    >>> teacher = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    >>> distiller = DataFreeDistillRegressor(
    ...     teacher, max_queries=20_000, random_state=0
    ... ).fit(X)
    >>> fidelity_score(distiller, X) > 0.5
    True
    """
    if isinstance(distiller, Pipeline):
        X = distiller[:-1].transform(X)
        distiller = distiller[-1]
    _check_fitted_distiller(
        distiller,
        "fidelity_score",
        "a fitted DataFreeDistillRegressor, or a Pipeline ending in one",
    )
    y_teacher, y_student, _ = _predict_both(distiller, X)
    return float(r2_score(y_teacher, y_student, sample_weight=sample_weight))


def _predict_both(distiller, X):
    """Teacher and student predictions on ``X``, both 2-D float64.

    Also returns a function that predicts ``X`` with the teacher as the
    distiller queries it, to time it: through its adapter on a tensor, or,
    for a teacher fitted on a DataFrame with text or category columns, its
    own ``predict`` on the frame (in its column order and categories).
    """
    # predict validates X (feature count and names) before the teacher sees it.
    y_student = distiller.predict(X)
    columns = getattr(distiller, "columns_", None)
    if columns is not None:
        frame = columns.teacher_frame(X)

        def predict_teacher():
            return np.asarray(distiller.teacher.predict(frame))

        y_teacher = predict_teacher().astype(np.float64)
        y_teacher = y_teacher.reshape(len(frame), -1)
    else:
        x = torch.as_tensor(np.array(X, dtype=np.float64), device=distiller.device_)
        teacher = as_teacher(
            distiller.teacher, distiller.n_features_in_, distiller.device_
        )

        def predict_teacher():
            return teacher.predict(x)

        y_teacher = predict_teacher().cpu().numpy().astype(np.float64)
    return y_teacher, y_student.reshape(y_teacher.shape), predict_teacher


def fidelity_scorer(estimator, X, y=None, sample_weight=None):
    """Score ``estimator`` by :func:`fidelity_score` on ``X``; ``y`` is ignored.

    A scorer in scikit-learn's ``(estimator, X, y)`` form, for model
    selection without labels: ``GridSearchCV(distiller, grid,
    scoring=fidelity_scorer)``, or alongside other metrics as
    ``scoring={"r2": "r2", "fidelity": fidelity_scorer}``.

    Parameters
    ----------
    estimator : DataFreeDistillRegressor or Pipeline
        A fitted distiller, or a fitted Pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Inputs to compare student and teacher on.
    y : ignored
        The held-out labels a search passes; fidelity does not need them.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows in the R².

    Returns
    -------
    score : float
        The R² of the student against the teacher (greater is better).
    """
    return fidelity_score(estimator, X, sample_weight=sample_weight)
