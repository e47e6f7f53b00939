"""How synthetic queries reach the skorch student.

One *round* is one skorch epoch: the query strategy makes a round of queries,
the teacher labels them in one batched call, and the stream hands them to
skorch as mini-batches. Per-round measurements are skorch callbacks writing
to ``net.history``, so skorch's own ``EarlyStopping``, ``LRScheduler`` and
``Checkpoint`` work unchanged.
"""

import math
import time
from copy import deepcopy

import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping
from skorch.utils import TeeGenerator, to_tensor
from torch.nn.functional import mse_loss
from torch.utils.data import DataLoader, IterableDataset

from ._history import DistillationHistory
from ._student import StandardizedModule, StandardizedMSELoss

__all__ = [
    "QueryRounds",
    "SyntheticQueryStream",
    "ReadyBatches",
    "StudentNet",
    "HoldoutFidelity",
    "KeepBestRound",
    "StopRounds",
]


def _all_finite(x):
    """Whether every value of ``x`` is finite.

    A finite sum proves it in one pass (a NaN or inf anywhere makes the sum
    NaN or inf); only a sum that is not finite, which finite values can also
    give by overflowing, needs the value-by-value check.
    """
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


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
                # Features the student averages over follow the base
                # distribution, whatever the strategy did to them.
                x = self.context.domain.redraw_averaged(
                    made.detach(), self.context.generator
                )
                if not _all_finite(x):
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

    Each iteration asks ``rounds`` for one labelled round of ``n`` queries and
    yields ``n_passes`` passes of ``n`` rows each, in batches of
    ``batch_size``. Without a ``window``, every pass is the round itself in a
    new order. With a ``window`` of rows, the round joins a replay window of
    the most recent ``window`` labelled queries (the rounds before it, up to
    that many rows), and the passes draw their rows from the whole window,
    without repeats until every row of it was drawn: the same number of
    student steps, each query used ``n_passes`` times on average, but the
    steps of one round see many rounds' queries instead of one round's.

    With ``units`` (a :class:`~skdistill.StandardizedModule`), each round is
    mapped once to its standardised inputs and targets, so the bare module it
    wraps trains on them: one standardisation per round instead of one per
    student step, forward and backward. The window holds them standardised.

    Parameters
    ----------
    rounds : callable
        Returns the next labelled round ``(x, y)``, or None once the budget
        is spent (a :class:`QueryRounds`).
    batch_size : int
        Rows per yielded batch (the last batch of a pass may be smaller).
    n_passes : int, default=1
        Passes of ``n`` rows per round.
    generator : torch.Generator, optional
        Draws the rows' order.
    units : StandardizedModule, optional
        Maps each round to the module's standardised units.
    window : int, optional
        Rows of the replay window; None, or no more than a round's rows,
        draws every pass from the current round alone.
    initial : tuple of torch.Tensor, optional
        Queries ``(x, y)`` the teacher labelled before the rounds (those the
        student's start was fitted on). They join the first round, so that
        every query the teacher labels trains the student; the attribute is
        None once they have.

    Attributes
    ----------
    window_x_, window_y_ : torch.Tensor or None
        The replay window's storage (``window`` rows, filled from the start);
        None until the first round, or without a window.
    n_filled_ : int
        Rows of the window filled so far.
    position_ : int
        Row of the window that the next round's first query overwrites.
    """

    def __init__(
        self,
        rounds,
        batch_size,
        n_passes=1,
        generator=None,
        units=None,
        window=None,
        initial=None,
    ):
        self.rounds = rounds
        self.batch_size = batch_size
        self.n_passes = n_passes
        self.generator = generator
        self.units = units
        self.window = window
        self.initial = initial
        self.window_x_ = self.window_y_ = None
        self.n_filled_ = self.position_ = 0

    def __iter__(self):
        labelled = self.rounds()
        if labelled is None:
            # The budget ran out before max_epochs (rounds without a finite
            # answer were skipped): end fit as skorch's EarlyStopping does.
            self.rounds.ran_out = True
            raise KeyboardInterrupt
        x, y = labelled
        if self.initial is not None:
            x = torch.cat([self.initial[0], x])
            y = torch.cat([self.initial[1], y])
            self.initial = None  # the first round only
        if self.units is not None:
            with torch.no_grad():
                x, y = self.units.standardize(x), self.units.standardize_targets(y)
        n = x.shape[0]
        x, y = self._remember(x, y)
        order = self._order(self.n_passes * n, x.shape[0], x.device)
        for first in range(0, self.n_passes * n, n):
            # Every pass is shuffled (one gather; the batches are views of it):
            # a round lists its optimised queries before its base ones, so each
            # batch mixes the two, as the paper's loss does, and a replayed
            # pass repeats no batch exactly. index_select gathers the same rows
            # as x[rows], several times faster on CPU for wide rows.
            rows = order[first : first + n]
            x_pass, y_pass = x.index_select(0, rows), y.index_select(0, rows)
            for start in range(0, n, self.batch_size):
                stop = start + self.batch_size
                yield x_pass[start:stop], y_pass[start:stop]

    def _remember(self, x, y):
        """Add a round to the window; return the rows the passes draw from."""
        if self.window is None or self.window <= x.shape[0]:
            return x, y
        self._write(x, y)
        return self.window_x_[: self.n_filled_], self.window_y_[: self.n_filled_]

    def _write(self, x, y):
        """Write rows over the ring's oldest ones (its storage made on first use)."""
        if self.window_x_ is None:
            self.window_x_ = x.new_empty((self.window, x.shape[1]))
            self.window_y_ = y.new_empty((self.window, y.shape[1]))
        n = x.shape[0]
        rows = torch.arange(self.position_, self.position_ + n, device=x.device)
        rows %= self.window
        self.window_x_[rows] = x
        self.window_y_[rows] = y
        self.position_ = (self.position_ + n) % self.window
        self.n_filled_ = min(self.window, self.n_filled_ + n)

    def _order(self, n_rows, size, device):
        """``n_rows`` row numbers below ``size``: permutations, one after another."""
        orders, drawn = [], 0
        while drawn < n_rows:
            order = torch.randperm(size, generator=self.generator, device=device)
            orders.append(order[: n_rows - drawn])
            drawn += orders[-1].shape[0]
        return orders[0] if len(orders) == 1 else torch.cat(orders)

    def window_state(self):
        """The window's filled rows and ring position, for a checkpoint."""
        if self.window_x_ is None:
            return None
        return {
            "x": self.window_x_[: self.n_filled_].cpu(),
            "y": self.window_y_[: self.n_filled_].cpu(),
            "position": self.position_,
        }

    def load_window_state(self, state, device):
        """Put back a window saved by :meth:`window_state` (None: empty)."""
        self.window_x_ = self.window_y_ = None
        self.n_filled_ = self.position_ = 0
        if state is not None:
            self._write(state["x"].to(device), state["y"].to(device))
            self.position_ = int(state["position"])


class ReadyBatches:
    """skorch's ``iterator_train`` for the distiller's student.

    A :class:`SyntheticQueryStream` already yields shuffled ``(X, y)``
    mini-batches on the fit's device, so a ``DataLoader`` would add nothing
    but its per-batch cost (worker bookkeeping, collation), which is a
    sizeable part of a small student's step: such a stream is iterated as it
    is (``ready`` is True), and ``batch_size`` and ``shuffle`` are its own
    business. Any other dataset, such as real rows given to the fitted
    ``student_.fit`` or ``partial_fit``, is batched by a ``DataLoader`` with
    skorch's ``batch_size`` and the net's other ``iterator_train__*``
    settings.
    """

    def __init__(self, dataset, batch_size=None, shuffle=False, **kwargs):
        self.ready = isinstance(dataset, SyntheticQueryStream)
        self.batches = (
            dataset
            if self.ready
            else DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, **kwargs)
        )

    def __iter__(self):
        return iter(self.batches)


_BATCH_HOOKS = ("on_batch_begin", "on_grad_computed", "on_batch_end")
# Overriding any of these in a subclass of StudentNet restores skorch's loop.
_STEP_METHODS = ("train_step", "train_step_single", "infer", "get_loss")


class StudentNet(NeuralNetRegressor):
    """skorch's ``NeuralNetRegressor`` for a student distilled in standard units.

    The distiller's student. With ``units`` (the four statistics
    ``(x_loc, x_scale, y_loc, y_scale)`` of a
    :class:`~skdistill.StandardizedModule`), :meth:`initialize_module` wraps
    the module it builds in a ``StandardizedModule``, so ``module_`` maps raw
    inputs to the teacher's units (for ``predict``, export and
    ``partial_fit`` on real rows, with a :class:`StandardizedMSELoss`
    criterion), and ``module_.inner`` is the bare network.

    An epoch over :class:`ReadyBatches` (one round of a
    :class:`SyntheticQueryStream`: batches already standardised, on the
    device) trains ``module_.inner`` on the mean squared error in standard
    units. It also skips what skorch does per batch for data of any kind:
    it sets train mode once, steps the optimizers with skorch's closure and
    step accumulator, calls only the batch hooks (``on_batch_begin``,
    ``on_grad_computed``, ``on_batch_end``) that a callback defines, and
    records the same per-batch history as skorch (``train_loss``,
    ``train_batch_size``). Every other epoch runs skorch's own loop, as does
    a subclass that overrides ``train_step``, ``train_step_single``,
    ``infer`` or ``get_loss`` (on standardised batches too).

    Pass one as ``student=`` to keep this loop with your own settings, e.g.
    ``StudentNet(MLPStudent, module__n_features=8, callbacks=[...])``; the
    distiller sets ``units`` and the rest as for any skorch net. Its history
    is a :class:`~skdistill.DistillationHistory`.

    Parameters
    ----------
    module : torch.nn.Module class or instance
        The network, as for any skorch net.
    units : tuple of tensors or None, default=None
        ``(x_loc, x_scale, y_loc, y_scale[, x_low, x_high])``, the arguments
        of ``StandardizedModule``; None leaves ``module_`` bare.
    **kwargs
        Any parameter of :class:`skorch.NeuralNetRegressor`.

    See Also
    --------
    DataFreeDistillRegressor : Builds and fits one as ``student_``.
    """

    def __init__(self, module, *args, units=None, **kwargs):
        super().__init__(module, *args, **kwargs)
        self.units = units

    def initialize_module(self):
        super().initialize_module()
        if self.units is not None:
            self.module_ = StandardizedModule(self.module_, *self.units)
        return self

    def initialize_criterion(self):
        if self.units is None:
            return super().initialize_criterion()
        # Real rows and the teacher's units: the loss the rounds minimise.
        self.criterion_ = StandardizedMSELoss(self.units[3].reshape(-1))
        return self

    def initialize_history(self):
        if isinstance(self.history_, DistillationHistory):
            self.history_.clear()
        else:
            self.history_ = DistillationHistory()
        return self

    def _network(self):
        """The module that standardised batches train."""
        return self.module_.inner if self.units is not None else self.module_

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        standardized = isinstance(iterator, ReadyBatches) and iterator.ready
        lean = (
            training
            and standardized
            and not fit_params
            and all(
                getattr(type(self), name) is getattr(StudentNet, name)
                for name in _STEP_METHODS
            )
        )
        if not lean:
            self._standardized_epoch = standardized
            try:
                return super().run_single_epoch(
                    iterator, training, prefix, step_fn, **fit_params
                )
            finally:
                self._standardized_epoch = False
        hooks = {name: self._defined_hooks(name) for name in _BATCH_HOOKS}
        self._set_training(True)
        batch_count = 0
        for batch in iterator:
            for hook in hooks["on_batch_begin"]:
                hook(self, batch=batch, training=True)
            step = self._ready_step(batch, hooks["on_grad_computed"])
            self.history.record_batch(prefix + "_loss", step["loss"].item())
            self.history.record_batch(prefix + "_batch_size", len(batch[0]))
            for hook in hooks["on_batch_end"]:
                hook(self, batch=batch, training=True, **step)
            batch_count += 1
        self.history.record(prefix + "_batch_count", batch_count)

    def infer(self, x, **fit_params):
        if getattr(self, "_standardized_epoch", False):
            return self._network()(to_tensor(x, device=self.device))
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if getattr(self, "_standardized_epoch", False):
            return mse_loss(y_pred, to_tensor(y_true, device=self.device))
        return super().get_loss(y_pred, y_true, X=X, training=training)

    def _defined_hooks(self, name):
        """The net's own hook ``name`` and those of callbacks that define it."""
        hooks = [getattr(self, name)]
        for _, callback in self.callbacks_:
            defined = getattr(type(callback), name) is not getattr(Callback, name)
            if defined or name in vars(callback):
                hooks.append(getattr(callback, name))
        return hooks

    def _ready_step(self, batch, grad_hooks):
        x, y = batch
        accumulator = self.get_train_step_accumulator()
        network = self._network()

        def closure():
            self._zero_grad_optimizer()
            y_pred = network(x)
            loss = mse_loss(y_pred, y)
            loss.backward()
            accumulator.store_step({"loss": loss, "y_pred": y_pred})
            for hook in grad_hooks:
                hook(
                    self,
                    named_parameters=TeeGenerator(self.get_all_learnable_params()),
                    batch=batch,
                    training=True,
                )
            return loss

        self._step_optimizer(closure)
        return accumulator.get_step()


class HoldoutFidelity(Callback):
    """Score the student against the teacher on fixed synthetic hold-out queries.

    Records, per round: ``n_queries`` (teacher queries so far),
    ``n_invalid_queries`` (of those, answered with NaN or inf and dropped),
    ``holdout_loss`` (MSE in standardised units, the model-selection
    criterion), ``holdout_loss_best`` (whether it is the lowest so far),
    ``holdout_rmse`` (teacher units, averaged over outputs), ``holdout_r2``
    and ``seconds`` since the fit started. No labelled data is involved.
    The scored module is ``net.module_`` (raw inputs to the teacher's units).
    With ``start``, a fit that starts afresh also scores the student it
    starts from (``start_scores_``, else None): ``"to_beat"``, the first
    round to count as best must beat it; ``"final"`` (a start that is exact
    by construction, which rounds can match on the hold-out only to rounding
    and miss elsewhere), no round counts as best.

    When training ends it lets go of the hold-out set and the teacher, so
    that a fitted net carries neither, and drops the rounds' per-step
    records (their ``train_loss`` and ``train_batch_count`` stay); later
    epochs (``partial_fit`` on real rows) record nothing.
    """

    def __init__(self, x, y, y_scale, teacher, start_time, start=None):
        self.x = x
        self.y = y
        self.y_scale = y_scale
        self.teacher = teacher
        self.start_time = start_time
        self.start = start

    def score(self, module):
        """``holdout_loss``, ``holdout_rmse`` and ``holdout_r2`` of ``module`` now."""
        module.eval()
        with torch.inference_mode():
            pred = module(self.x)
        err = pred - self.y
        mse = (err**2).mean(dim=0)
        var = self.y.var(dim=0, unbiased=False).clamp_min(1e-12)
        return {
            "holdout_loss": float((mse / self.y_scale**2).mean()),
            "holdout_rmse": float(mse.sqrt().mean()),
            "holdout_r2": float((1 - mse / var).mean()),
        }

    def on_train_begin(self, net, **kwargs):
        # A continued fit's history holds its earlier rounds: the best to beat;
        # a fresh fit's, none, so its start is.
        scored = [row["holdout_loss"] for row in net.history if "holdout_loss" in row]
        self.start_scores_ = None
        if self.start is not None and not scored and self.teacher is not None:
            self.start_scores_ = self.score(net.module_)
            scored = [self.start_scores_["holdout_loss"]]
            if self.start == "final":
                scored = [-math.inf]
        self.best_loss_ = min(scored, default=math.inf)

    def on_epoch_end(self, net, **kwargs):
        if self.teacher is None:
            return
        scores = self.score(net.module_)
        best = scores["holdout_loss"] < self.best_loss_
        self.best_loss_ = min(self.best_loss_, scores["holdout_loss"])
        net.history.record("n_queries", int(self.teacher.n_queries))
        net.history.record("n_invalid_queries", int(self.teacher.n_invalid))
        for key, value in scores.items():
            net.history.record(key, value)
        net.history.record("holdout_loss_best", best)
        net.history.record("seconds", time.perf_counter() - self.start_time)

    def on_train_end(self, net, **kwargs):
        self.x = self.y = self.y_scale = self.teacher = None
        # A round's thousands of per-step records would outweigh the student
        # it ships with; its mean loss and step count stay.
        for row in net.history:
            if "holdout_loss" in row:
                row.pop("batches", None)


class KeepBestRound(EarlyStopping):
    """skorch's ``EarlyStopping`` that restores the best round of the rounds.

    It monitors the hold-out loss with ``load_best=True``, restores the best
    round's weights when training ends, then lets go of its copy of them and
    does nothing more: epochs of a later ``partial_fit`` on real rows are the
    user's own. With ``holdout``, the student a fresh fit starts from counts
    as round 0 (as ``holdout.start`` says): when no round beats it, or when
    it is final, it is the one restored.

    Parameters
    ----------
    monitor, patience, threshold, threshold_mode, lower_is_better, sink, \
load_best
        As for ``EarlyStopping``.
    resume : dict, default=None
        The fitted attributes (``dynamic_threshold_``, ``best_epoch_``,
        ``misses_``, ``best_model_weights_``) of the fit this one continues,
        put back when training begins instead of starting afresh.
    holdout : HoldoutFidelity, default=None
        The callback before this one whose ``start_scores_`` score the start.
        Let go of when training ends.
    """

    def __init__(
        self,
        monitor="holdout_loss",
        patience=5,
        threshold=1e-4,
        threshold_mode="rel",
        lower_is_better=True,
        sink=print,
        load_best=True,
        resume=None,
        holdout=None,
    ):
        super().__init__(
            monitor=monitor,
            patience=patience,
            threshold=threshold,
            threshold_mode=threshold_mode,
            lower_is_better=lower_is_better,
            sink=sink,
            load_best=load_best,
        )
        self.resume = resume
        self.holdout = holdout

    def on_train_begin(self, net, **kwargs):
        if getattr(self, "finished_", False):
            return
        super().on_train_begin(net, **kwargs)
        start = getattr(self.holdout, "start_scores_", None)
        if self.resume is None and start is not None:
            self.dynamic_threshold_ = (
                -math.inf
                if self.holdout.start == "final"
                else self._calc_new_threshold(start[self.monitor])
            )
            self.best_model_weights_ = deepcopy(net.module_.state_dict())
        for name, value in (self.resume or {}).items():
            setattr(self, name, deepcopy(value))
        self.resume = None  # its copy of the weights goes

    def on_epoch_end(self, net, **kwargs):
        if not getattr(self, "finished_", False):
            super().on_epoch_end(net, **kwargs)

    def on_train_end(self, net, **kwargs):
        if getattr(self, "finished_", False):
            return
        super().on_train_end(net, **kwargs)
        self.best_model_weights_ = self.holdout = None
        self.finished_ = True


class StopRounds(Callback):
    """End the fit after ``max_time`` seconds or ``n_iter_no_change`` idle rounds.

    It comes after the round checkpoint, so the stopping round is scored,
    kept and saved first. The best student so far is restored either way.

    Parameters
    ----------
    max_time : float or None
        Seconds since ``start_time`` after which no new round starts.
    n_iter_no_change : int or None
        Rounds without hold-out improvement (``holdout_loss_best``) after
        which the fit stops, counted from ``first_round``.
    start_time : float
        ``time.perf_counter()`` at the start of ``fit``.
    first_round : int, default=0
        The history's first round of this fit (a warm start's history goes
        on from the fit it continues).

    Attributes
    ----------
    reason_ : {"max_time", "n_iter_no_change"} or None
        Why this callback ended the fit, if it did.
    """

    def __init__(
        self, max_time=None, n_iter_no_change=None, start_time=0.0, first_round=0
    ):
        self.max_time = max_time
        self.n_iter_no_change = n_iter_no_change
        self.start_time = start_time
        self.first_round = first_round

    def on_train_begin(self, net, **kwargs):
        self.reason_ = None

    def _rounds_without_improvement(self, net):
        misses = 0
        for row in reversed(net.history[self.first_round :]):
            if row.get("holdout_loss_best", True):
                break
            misses += 1
        return misses

    def on_epoch_end(self, net, **kwargs):
        if getattr(self, "finished_", False):
            return
        if (
            self.max_time is not None
            and time.perf_counter() - self.start_time >= self.max_time
        ):
            self.reason_ = "max_time"
        elif (
            self.n_iter_no_change is not None
            and self._rounds_without_improvement(net) >= self.n_iter_no_change
        ):
            self.reason_ = "n_iter_no_change"
        else:
            return
        if net.verbose:
            print(f"Stopping: {self.reason_} reached.")
        raise KeyboardInterrupt  # skorch's way to end fit early, cleanly

    def on_train_end(self, net, **kwargs):
        self.finished_ = True  # later epochs (real rows) are the user's
