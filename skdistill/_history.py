"""The distiller's per-round history: skorch's ``History``, plus a pandas view."""

from skorch.history import History

__all__ = ["DistillationHistory"]

# Per-round keys in the order a reader wants them; skorch's own bookkeeping
# (per-batch records, "*_best" flags) is left out of the frame.
_COLUMNS = {
    "n_queries": "n_queries",
    "n_invalid_queries": "n_invalid_queries",
    "seconds": "seconds",
    "train_loss": "train_loss",
    "holdout_loss": "holdout_loss",
    "holdout_rmse": "holdout_rmse",
    "holdout_r2": "holdout_r2",
    "event_lr": "lr",
    "dur": "dur",
}


class DistillationHistory(History):
    """skorch's :class:`~skorch.history.History`, one entry per distillation round.

    It is the student's own history (``distiller.history_ is
    distiller.student_.history``), so everything skorch offers works on it:
    ``history_[:, "holdout_r2"]``, ``history_[-1]``, callbacks that monitor
    its keys. :meth:`to_frame` adds a one-call pandas view.

    Per round it records ``n_queries`` (teacher queries so far),
    ``seconds`` (since ``fit`` started), ``train_loss``, ``holdout_loss``
    (the model-selection criterion, in standardised units),
    ``holdout_rmse`` (teacher units), ``holdout_r2``, the learning rate
    (``event_lr``) and skorch's ``dur``.
    """

    def to_frame(self):
        """Return the history as a pandas DataFrame, one row per round.

        Returns
        -------
        frame : pandas.DataFrame
            Indexed by ``round`` (1-based, skorch's epoch). Columns:
            ``n_queries``, ``seconds``, ``train_loss``, ``holdout_loss``,
            ``holdout_rmse``, ``holdout_r2``, ``lr`` and ``dur`` (those that
            were recorded), and ``best``, True on the round whose student was
            kept (the lowest ``holdout_loss``).

        Examples
        --------
        >>> frame = distiller.history_.to_frame()  # doctest: +SKIP
        >>> frame[["n_queries", "holdout_r2"]].tail()  # doctest: +SKIP
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError(
                "DistillationHistory.to_frame needs pandas: "
                "python -m pip install pandas"
            ) from exc
        rows = []
        for entry in self:
            row = {"round": entry.get("epoch", len(rows) + 1)}
            row.update(
                {name: entry[key] for key, name in _COLUMNS.items() if key in entry}
            )
            rows.append(row)
        frame = pd.DataFrame(rows, columns=["round", *_COLUMNS.values()])
        frame = frame.dropna(axis="columns", how="all").set_index("round")
        if "holdout_loss" in frame and len(frame):
            # The first minimum, as skorch's EarlyStopping(threshold=0) keeps it.
            frame["best"] = frame.index == frame["holdout_loss"].idxmin()
        return frame
