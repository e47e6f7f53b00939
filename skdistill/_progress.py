"""A progress bar over the teacher-query budget, with the live hold-out fidelity."""

from skorch.callbacks import Callback

__all__ = ["QueryProgressBar"]


class QueryProgressBar(Callback):
    """Show a tqdm bar of teacher queries spent, updated once per round.

    The postfix shows the current round's hold-out R² and RMSE (student vs
    teacher on the synthetic hold-out queries) and the best R² so far. In a
    notebook with ``ipywidgets`` installed the bar is a widget
    (``tqdm.auto``); elsewhere it is one line of text on stderr.

    Parameters
    ----------
    total : int
        The query budget (``max_queries``). When training reads a
        ``SyntheticQueryStream``, the bar ends instead where the stream's
        budget does, so a warm-started or resumed fit (whose counts go on
        from the earlier fit) ends at 100% too.
    teacher : object
        The teacher adapter, whose ``n_queries`` counts queries spent; let
        go of when training ends (the bar shows one fit).
    file : file-like, default=None
        Where the bar is written; ``None`` is tqdm's default (stderr).
    """

    def __init__(self, total, teacher, file=None):
        self.total = total
        self.teacher = teacher
        self.file = file

    def on_train_begin(self, net, X=None, **kwargs):
        from tqdm.auto import tqdm

        if self.teacher is None:  # the fit it showed has ended
            return
        spent = int(self.teacher.n_queries)  # probe and hold-out, earlier fits
        total = self.total
        rounds = getattr(X, "rounds", None)
        if rounds is not None:
            total = spent + max(rounds.budget - rounds.used, 0)
        self.bar_ = tqdm(
            total=max(total, spent),
            initial=spent,
            desc="distilling",
            unit=" queries",
            unit_scale=True,
            file=self.file,
            dynamic_ncols=True,
            leave=True,
        )
        self.best_r2_ = None

    def on_epoch_end(self, net, **kwargs):
        if getattr(self, "bar_", None) is None:
            return
        entry = net.history[-1]
        r2 = entry.get("holdout_r2")
        rmse = entry.get("holdout_rmse")
        if r2 is not None:
            self.best_r2_ = r2 if self.best_r2_ is None else max(self.best_r2_, r2)
            self.bar_.set_postfix_str(
                f"hold-out R² {r2:.4f}, RMSE {rmse:.4g} (best R² {self.best_r2_:.4f})",
                refresh=False,
            )
        self.bar_.update(
            min(int(self.teacher.n_queries), self.bar_.total) - self.bar_.n
        )

    def on_train_end(self, net, **kwargs):
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.close()
            del self.bar_
        self.teacher = None  # the fitted student carries no teacher

    def __getstate__(self):
        # A finished fit leaves no bar; a bar in flight is not picklable.
        state = self.__dict__.copy()
        state.pop("bar_", None)
        return state
