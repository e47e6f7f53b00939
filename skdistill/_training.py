"""How synthetic queries reach the skorch student.

One *round* is one skorch epoch: the query strategy makes a round of queries,
the teacher labels them in one batched call, and the stream hands them to
skorch as mini-batches. Per-round measurements are skorch callbacks writing
to ``net.history``, so skorch's own ``EarlyStopping``, ``LRScheduler`` and
``Checkpoint`` work unchanged.
"""

import math
import time

import torch
from skorch.callbacks import Callback
from torch.utils.data import IterableDataset

__all__ = ["QueryRounds", "SyntheticQueryStream", "HoldoutFidelity", "TimeBudget"]


class QueryRounds:
    """Make one labelled round of queries per call, within a query budget.

    Parameters
    ----------
    strategy : QueryStrategy
        Started strategy.
    context : QueryContext
        Shared with the strategy; ``progress`` is updated every round.
    round_size : int
        Queries per round.
    budget : int
        Teacher queries this object may spend on training queries.
    """

    def __init__(self, strategy, context, round_size, budget):
        self.strategy = strategy
        self.context = context
        self.round_size = round_size
        self.budget = budget
        self.used = 0

    @property
    def n_rounds(self):
        return math.ceil((self.budget - self.used) / self.round_size)

    def __call__(self):
        n = min(self.round_size, self.budget - self.used)
        if n <= 0:
            return None
        self.context.progress = self.used / self.budget
        made = self.strategy.generate(n, self.context)
        if isinstance(made, tuple):  # already labelled by the strategy
            x, y = (t.detach() for t in made)
        else:
            x = made.detach()
            y = self.context.teacher.predict(x)
        self.strategy.observe(x, y, self.context)
        self.used += n
        return x, y


class SyntheticQueryStream(IterableDataset):
    """An iterable dataset whose every pass is one fresh round of labelled queries.

    Yields ready-made ``(X, y)`` mini-batches, so the skorch net must use
    ``iterator_train__batch_size=None`` (no re-batching by the DataLoader).
    """

    def __init__(self, rounds, batch_size, n_passes=1, generator=None):
        self.rounds = rounds
        self.batch_size = batch_size
        self.n_passes = n_passes
        self.generator = generator

    def __iter__(self):
        labelled = self.rounds()
        if labelled is None:
            return
        x, y = labelled
        n = x.shape[0]
        for i in range(self.n_passes):
            # Replayed passes reshuffle, so no batch repeats exactly.
            order = (
                torch.randperm(n, generator=self.generator, device=x.device)
                if i
                else torch.arange(n, device=x.device)
            )
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                yield x[idx], y[idx]


class HoldoutFidelity(Callback):
    """Score the student against the teacher on fixed synthetic hold-out queries.

    Records, per round: ``n_queries`` (teacher queries so far), ``holdout_loss``
    (MSE in standardised units, the model-selection criterion),
    ``holdout_rmse`` (teacher units, averaged over outputs), ``holdout_r2``
    and ``seconds`` since the fit started. No labelled data is involved.
    """

    def __init__(self, x, y, y_scale, teacher, start_time):
        self.x = x
        self.y = y
        self.y_scale = y_scale
        self.teacher = teacher
        self.start_time = start_time

    def on_epoch_end(self, net, **kwargs):
        net.module_.eval()
        with torch.inference_mode():
            pred = net.module_(self.x)
        err = pred - self.y
        mse = (err**2).mean(dim=0)
        var = self.y.var(dim=0, unbiased=False).clamp_min(1e-12)
        net.history.record("n_queries", int(self.teacher.n_queries))
        net.history.record("holdout_loss", float((mse / self.y_scale**2).mean()))
        net.history.record("holdout_rmse", float(mse.sqrt().mean()))
        net.history.record("holdout_r2", float((1 - mse / var).mean()))
        net.history.record("seconds", time.perf_counter() - self.start_time)


class TimeBudget(Callback):
    """Stop training (keeping the best student so far) after ``max_time`` seconds."""

    def __init__(self, max_time, start_time):
        self.max_time = max_time
        self.start_time = start_time

    def on_epoch_end(self, net, **kwargs):
        if time.perf_counter() - self.start_time >= self.max_time:
            raise KeyboardInterrupt  # skorch's way to end fit early, cleanly
