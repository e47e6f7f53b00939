"""Warnings that skdistill issues, to filter or catch by class.

Like :mod:`sklearn.exceptions`: errors use Python's and scikit-learn's own
types (``ValueError``, ``TypeError``, ``NotFittedError``); these warnings
mark outcomes a user may want to act on without stopping a fit.
"""

__all__ = [
    "FitInterruptedWarning",
    "InvalidTeacherOutputWarning",
    "LowFidelityWarning",
]


class InvalidTeacherOutputWarning(UserWarning):
    """The teacher answered NaN or inf on some queries, which were dropped.

    The fit goes on with the queries that have finite answers; it stops with
    a ``ValueError`` only when none are left. ``n_invalid_queries_`` and the
    history column ``n_invalid_queries`` count the dropped queries.

    Examples
    --------
    To stop at the first NaN or inf answer instead of dropping it:

    >>> import warnings
    >>> from skdistill.exceptions import InvalidTeacherOutputWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", InvalidTeacherOutputWarning)
    ...     distiller.fit()  # doctest: +SKIP
    """


class FitInterruptedWarning(UserWarning):
    """``fit`` was interrupted (``KeyboardInterrupt``) and kept its best round.

    Like skorch's nets, the distiller catches the interrupt between or inside
    rounds, restores the student of the best round so far and returns a
    usable, fitted estimator; ``stop_reason_`` is ``"interrupted"``. Fitting
    again with ``warm_start=True`` continues from that student.
    """


class LowFidelityWarning(UserWarning):
    """The fitted student copies the teacher poorly on the synthetic hold-out.

    Issued once at the end of ``fit`` when ``holdout_r2_`` (the kept
    student's R² against the teacher on the synthetic hold-out queries) is
    below 0.9. What usually helps, most first: unlabelled rows
    (``fit(X)``), a ``domain`` where the real inputs lie, a larger
    ``max_queries`` or a larger student.

    The figure is measured on the query domain, not on your data: it is
    optimistic exactly when the domain is wrong (queries where real rows
    never are), so a high ``holdout_r2_`` without ``fit(X)`` is no proof of
    fidelity on real rows, while a low one is a sure sign of trouble.
    """
