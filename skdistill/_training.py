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

__all__ = [
    "QueryRounds",
    "SyntheticQueryStream",
    "ReadyBatches",
    "HoldoutFidelity",
    "StopRounds",
]


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

    Attributes
    ----------
    used : int
        Training queries spent so far.
    n_labelled : int
        Of those, the queries with finite labels, handed to the student.
    ran_out : bool
        Whether the budget ran out before the last round skorch expected
        (rounds without a finite answer were skipped).
    """

    def __init__(self, strategy, context, round_size, budget):
        self.strategy = strategy
        self.context = context
        self.round_size = round_size
        self.budget = budget
        self.used = 0
        self.n_labelled = 0
        self.ran_out = False

    @property
    def n_rounds(self):
        """Rounds left in the budget."""
        return math.ceil((self.budget - self.used) / self.round_size)

    @property
    def exhausted(self):
        return self.used >= self.budget

    def __call__(self):
        """Return the next round's queries with finite labels; None once spent.

        Queries the teacher answers with NaN or inf are dropped (and counted
        by the teacher adapter); a round left with none is followed by the
        next one within the budget.
        """
        teacher = self.context.teacher
        while not self.exhausted:
            n = min(self.round_size, self.budget - self.used)
            self.context.progress = self.used / self.budget
            made = self.strategy.generate(n, self.context)
            if isinstance(made, tuple):  # already labelled by the strategy
                x, y = (t.detach() for t in made)
            else:
                x = made.detach()
                if not bool(torch.isfinite(x).all()):
                    raise RuntimeError(
                        f"The query strategy {type(self.strategy).__name__} made "
                        "non-finite queries; a strategy must keep every query "
                        "finite and inside the domain."
                    )
                y = teacher.predict(x)
            self.used += n
            x, y = teacher.drop_invalid(x, y)
            self.strategy.observe(x, y, self.context)
            self.n_labelled += x.shape[0]
            if x.shape[0]:
                return x, y
        if self.n_labelled == 0:
            raise ValueError(
                f"The teacher {teacher.name} returned NaN or inf on all "
                f"{self.used} training queries, so nothing usable is left. "
                + teacher._domain_hint()
            )
        return None


class SyntheticQueryStream(IterableDataset):
    """An iterable dataset whose every pass is one fresh round of labelled queries.

    Yields ready-made ``(X, y)`` mini-batches, so the skorch net iterates it
    with :class:`ReadyBatches` (``iterator_train=ReadyBatches``) rather than
    re-batching it through a ``DataLoader``.

    With ``units`` (a :class:`~skdistill.StandardizedModule`), each round is
    mapped once to its standardised inputs and targets, so the bare module it
    wraps trains on them: one standardisation per round instead of one per
    student step, forward and backward.
    """

    def __init__(self, rounds, batch_size, n_passes=1, generator=None, units=None):
        self.rounds = rounds
        self.batch_size = batch_size
        self.n_passes = n_passes
        self.generator = generator
        self.units = units

    def __iter__(self):
        labelled = self.rounds()
        if labelled is None:
            # The budget ran out before max_epochs (rounds without a finite
            # answer were skipped): end fit as skorch's EarlyStopping does.
            self.rounds.ran_out = True
            raise KeyboardInterrupt
        x, y = labelled
        if self.units is not None:
            with torch.no_grad():
                x, y = self.units.standardize(x), self.units.standardize_targets(y)
        n = x.shape[0]
        for _ in range(self.n_passes):
            # Every pass is shuffled (one gather; the batches are views of it):
            # a round lists its optimised queries before its base ones, so each
            # batch mixes the two, as the paper's loss does, and a replayed
            # pass repeats no batch exactly.
            order = torch.randperm(n, generator=self.generator, device=x.device)
            x_pass, y_pass = x[order], y[order]
            for start in range(0, n, self.batch_size):
                stop = start + self.batch_size
                yield x_pass[start:stop], y_pass[start:stop]


class ReadyBatches:
    """skorch's ``iterator_train`` for a :class:`SyntheticQueryStream`.

    The stream already yields shuffled ``(X, y)`` mini-batches on the fit's
    device, so a ``DataLoader`` would add nothing but its per-batch cost
    (worker bookkeeping, collation), which is a sizeable part of a small
    student's step. This iterates the stream itself. ``batch_size`` and
    ``shuffle``, which skorch passes to every ``iterator_train``, are the
    stream's business and are ignored here.
    """

    def __init__(self, dataset, batch_size=None, shuffle=False):
        self.dataset = dataset

    def __iter__(self):
        return iter(self.dataset)


class HoldoutFidelity(Callback):
    """Score the student against the teacher on fixed synthetic hold-out queries.

    Records, per round: ``n_queries`` (teacher queries so far),
    ``n_invalid_queries`` (of those, answered with NaN or inf and dropped),
    ``holdout_loss`` (MSE in standardised units, the model-selection
    criterion), ``holdout_rmse`` (teacher units, averaged over outputs),
    ``holdout_r2`` and ``seconds`` since the fit started. No labelled data
    is involved.

    ``module``, if set, is the module scored (raw inputs to the teacher's
    units): the :class:`~skdistill.StandardizedModule` around ``net.module_``
    while the bare module trains. By default, ``net.module_`` itself.
    """

    def __init__(self, x, y, y_scale, teacher, start_time, module=None):
        self.x = x
        self.y = y
        self.y_scale = y_scale
        self.teacher = teacher
        self.start_time = start_time
        self.module = module

    def on_epoch_end(self, net, **kwargs):
        module = self.module if self.module is not None else net.module_
        module.eval()
        with torch.inference_mode():
            pred = module(self.x)
        err = pred - self.y
        mse = (err**2).mean(dim=0)
        var = self.y.var(dim=0, unbiased=False).clamp_min(1e-12)
        net.history.record("n_queries", int(self.teacher.n_queries))
        net.history.record("n_invalid_queries", int(self.teacher.n_invalid))
        net.history.record("holdout_loss", float((mse / self.y_scale**2).mean()))
        net.history.record("holdout_rmse", float(mse.sqrt().mean()))
        net.history.record("holdout_r2", float((1 - mse / var).mean()))
        net.history.record("seconds", time.perf_counter() - self.start_time)


class StopRounds(Callback):
    """End the fit after ``max_time`` seconds or ``n_iter_no_change`` idle rounds.

    It comes after ``keep_best`` (whose ``misses_`` it reads) and after the
    round checkpoint, so the stopping round is scored, kept and saved first.
    The best student so far is restored either way.

    Parameters
    ----------
    max_time : float or None
        Seconds since ``start_time`` after which no new round starts.
    n_iter_no_change : int or None
        Rounds without hold-out improvement after which the fit stops.
    start_time : float
        ``time.perf_counter()`` at the start of ``fit``.

    Attributes
    ----------
    reason_ : {"max_time", "n_iter_no_change"} or None
        Why this callback ended the fit, if it did.
    """

    def __init__(self, max_time=None, n_iter_no_change=None, start_time=0.0):
        self.max_time = max_time
        self.n_iter_no_change = n_iter_no_change
        self.start_time = start_time

    def on_train_begin(self, net, **kwargs):
        self.reason_ = None

    def on_epoch_end(self, net, **kwargs):
        misses = dict(net.callbacks_)["keep_best"].misses_
        if (
            self.max_time is not None
            and time.perf_counter() - self.start_time >= self.max_time
        ):
            self.reason_ = "max_time"
        elif self.n_iter_no_change is not None and misses >= self.n_iter_no_change:
            self.reason_ = "n_iter_no_change"
        else:
            return
        if net.verbose:
            print(f"Stopping: {self.reason_} reached.")
        raise KeyboardInterrupt  # skorch's way to end fit early, cleanly
