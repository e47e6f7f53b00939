"""DataFreeDistillRegressor: distill a fitted regressor into a small network, no data needed."""

import math
import os
import time
import warnings
from contextlib import contextmanager
from copy import deepcopy
from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import EarlyStopping, LRScheduler

from ._checkpoint import (
    ResumeState,
    RoundCheckpoint,
    capture_state,
    check_resumable,
    load_checkpoint,
    params_fingerprint,
    restore_strategy,
)
from ._domain import InputDomain
from ._history import DistillationHistory
from ._hummingbird import TEACHER_BACKENDS
from ._initialization import (
    find_first_layer,
    init_from_first_layer,
    mlp_student_depth,
)
from ._introspection import infer_domain
from ._optimizer import LeanAdam
from ._progress import QueryProgressBar
from ._queries import _STRATEGIES, QueryContext, QueryStrategy, resolve_strategy
from ._schedule import WarmupCosineLR
from ._sensitivity import input_sensitivity, noise_floor
from ._student import (
    _ACTIVATIONS,
    MLPStudent,
    StandardizedModule,
    StandardizedMSELoss,
    fused_optimizer_kwargs,
)
from ._teachers import as_teacher
from ._training import (
    HoldoutFidelity,
    QueryRounds,
    ReadyBatches,
    StopRounds,
    StudentNet,
    SyntheticQueryStream,
)
from .exceptions import FitInterruptedWarning, InvalidTeacherOutputWarning

__all__ = ["DataFreeDistillRegressor"]

_PROBE_SIZE = 16
_PREDICT_BATCH = 65536
# The "auto" learning rate for up to 16 varying features and batches of
# _BASE_BATCH_SIZE queries.
_BASE_LEARNING_RATE = 1e-2
_BASE_BATCH_SIZE = 256
# student_init="auto" starts from the teacher's units when they fit it this well.
_INIT_MIN_R2 = 0.8


def _silent(*args, **kwargs):
    """A picklable sink that prints nothing."""


@contextmanager
def _torch_threads(n_threads):
    """Run with ``n_threads`` torch threads, restoring the caller's setting."""
    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _resolve_device(device):
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}."
        ) from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available; use "
            "device='auto' or 'cpu'."
        )
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be a CPU or CUDA device; got {device!r}.")
    return resolved


def _check_hidden_layer_sizes(sizes):
    sizes = tuple(sizes) if np.iterable(sizes) else (sizes,)
    if not all(isinstance(s, Integral) and s > 0 for s in sizes):
        raise ValueError(
            f"hidden_layer_sizes must be positive integers; got {sizes!r}."
        )
    return sizes


class DataFreeDistillRegressor(RegressorMixin, BaseEstimator):
    """Distill a fitted regressor into a small neural network without its data.

    The fitted ``teacher`` is queried on synthetic inputs chosen by a query
    strategy; its answers train a skorch ``NeuralNetRegressor`` student. The
    default strategy, ``"bounded_gap"`` (Zhou & Chiam, 2023), steers queries
    towards inputs where teacher and student disagree by a large but bounded
    amount. No labelled data is used anywhere: model selection scores the
    student against the teacher on synthetic hold-out queries.

    Parameters
    ----------
    teacher : fitted estimator, skorch NeuralNet or torch.nn.Module
        The model to distill. Torch modules and skorch nets are white boxes
        (input gradients are used); anything else with ``predict`` is a black
        box, always queried in large batches. It is never refit or modified,
        and :func:`sklearn.base.clone` keeps it by reference.
    query_strategy : {"bounded_gap", "gaussian", "uniform", "lhs", \
"generator"} or QueryStrategy, default="bounded_gap"
        How queries are chosen; see :class:`BoundedGapQueries`,
        :class:`GaussianQueries`, :class:`UniformQueries`,
        :class:`LatinHypercubeQueries` and :class:`GeneratorQueries`.
    max_queries : int, default=400_000
        Teacher-query budget, hold-out queries included.
    batch_size : int, default=512
        Queries per student step. With ``learning_rate="auto"``, the learning
        rate grows as the square root of the batch size. 512 (256 before; see
        the changelog) halves the student's steps: at the same RMSE on the
        paper's teachers (mean ratio to the teacher 1.031 either way at its
        10 seeds, 1.069 against 1.074 on the 384-feature check), a default
        fit on its four datasets took 22% less time (median 5.0 s against
        6.4 s); on 384 features, where the teacher's work dominates, about
        the same (``benchmarks/results/ablation_batch_size*.md``).
    round_size : int, default=4096
        Queries per round: one batched teacher call, one strategy update and
        one hold-out score (one skorch epoch).
    n_passes : int, default=8
        Student steps per round, in passes of ``round_size`` rows (query
        replay): each round takes ``n_passes * round_size / batch_size``
        steps, so every query is trained on ``n_passes`` times on average.
        More student steps per teacher query, for expensive teachers.
    replay_rounds : int, default=8
        Rounds of labelled queries that a round's student steps draw from: the
        round joins a replay window of the latest ``replay_rounds *
        round_size`` queries, and its passes take rows from the whole window,
        without repeats until every row of it was drawn. The steps of a round
        then see many rounds' queries, not just its own ``n_passes`` times
        over: at the same number of steps and teacher queries, this lowered
        the fidelity error of the paper's students on all four of its
        datasets, by 3 to 9% at its 10 seeds (measured when it became the
        default; see the changelog). 1 trains each round
        on its own queries only. The window holds ``replay_rounds *
        round_size`` standardised queries on the device (4 MiB for 8 rounds
        of 4,096 queries of 32 float32 features), and is saved with each
        checkpoint; a warm start begins with an empty one.
    hidden_layer_sizes : tuple of int, default=(50,)
        Hidden layers of the default student.
    activation : {"tanh", "relu", "logistic", "gelu", "silu"}, default="tanh"
        Hidden activation of the default student.
    learning_rate : float or "auto", default="auto"
        Learning rate of the default student's Adam optimizer
        (:class:`~skdistill.LeanAdam`, fused where torch has the kernel),
        warmed up over the first rounds (``learning_rate_warmup``) and
        annealed to 1% of itself on a cosine schedule over the budget. "auto"
        is ``1e-2 * sqrt(batch_size / 256) * min(1, sqrt(16 / d))`` for ``d``
        features that vary in the domain: Adam moves every first-layer weight
        by about the learning rate, so the student's hidden units move more
        per step the more inputs they sum; and a batch twice as large averages
        away half the gradient noise, which the square-root rule for Adam
        trades for a larger step. Measured on the paper's teachers at batches
        of 256: 1e-2 was best on 10 to 21 features and 1e-3 to 2e-3 on 384
        (``benchmarks/results/paper_table_ablation*.md``); at 512, the square
        root (x1.41) matched them where doubling it was worse on 384 features
        (``benchmarks/results/ablation_batch_size.md``). The value used is
        ``learning_rate_``.
    learning_rate_warmup : float in [0, 1), default=0.03
        Fraction of the rounds over which the default student's learning
        rate rises linearly to ``learning_rate_`` before the cosine takes it
        down (:class:`~skdistill.WarmupCosineLR`; ``round(fraction *
        rounds)`` rounds: 3 of the 97 of a default fit, none in a fit of
        fewer than 50 rounds; 0 for none). Adam moves every weight by about
        the learning rate from its first step; the warm-up keeps the first
        moves short. At the paper's 10 seeds it lowered the fidelity error on
        every seed of the 384-feature check (ratio to the teacher 1.076 to
        1.055) and left the four low-dimensional datasets level, within 0.005
        (``benchmarks/results/ablation_warmup.md``). A warm start warms up
        again over its new budget.
    student : skorch.NeuralNet, default=None
        An unfitted skorch net to train instead of the default MLP. Its module
        must accept ``n_features`` inputs and return ``n_outputs`` values; its
        optimizer and callbacks are kept, while ``train_split``, the
        criterion, the batching and ``max_epochs`` are set by the distiller.
        A :class:`~skdistill.StudentNet` keeps the default's lean loop.
    student_init : {"auto", "teacher", "random"}, default="auto"
        Where the student's weights start. A network teacher's first layer
        holds what it learned about its inputs: each hidden unit is a
        direction and an offset that training placed where the rows were.
        ``"teacher"`` starts the student's first layer from the teacher's
        most important first-layer units (scored by a ridge fit of the
        teacher on all of them) and, for one hidden layer, fits its output
        layer to the teacher by least squares, on ``min(round_size,
        budget // 4)`` extra queries from the domain (counted in
        ``n_teacher_queries_``). The teacher's first layer is read from a
        torch module or skorch net (its first ``nn.Linear``, checked to take
        the raw queries) or a fitted ``MLPRegressor``, also at the end of a
        Pipeline whose earlier steps are an affine map (scalers, PCA; checked
        on the probe queries). ``"auto"`` does so for a one-hidden-layer
        :class:`~skdistill.MLPStudent` when the chosen units fit the teacher
        with R² of at least 0.8 on those queries, and starts at random
        otherwise; ``"teacher"`` insists (and raises when the teacher shows
        no first layer); ``"random"`` is torch's initialisation. How the
        student started is ``student_init_``. On the paper's teachers the
        teacher's units lowered the student's fidelity error on all four of
        its datasets; on the 384-feature check (R² of 0.68 to 0.76) they did
        not help, and ``"auto"`` starts at random there
        (``benchmarks/results/ablation_student_init*.md``).
    domain : dict or InputDomain, default=None
        Where queries may lie. ``None`` uses the rows given to ``fit(X)``,
        else what the fitted teacher reveals (a Pipeline's scaler or encoder
        statistics, a tree ensemble's split thresholds, rows kept by
        k-nearest neighbours or support vectors), else a standard normal per
        feature (the paper's assumption of standardised inputs; a warning
        says so for black-box teachers). A dict ``{"low": ..., "high": ...}`` gives a
        uniform box; ``{"loc": ..., "scale": ...}`` (optionally with
        ``low``/``high``) a normal distribution.
    n_features : int, default=None
        Number of input features, for teachers that do not reveal it.
    noise_features : "auto", array-like or None, default="auto"
        Inputs the student averages over instead of copying: it does not take
        them as input, and queries draw them from the domain's base
        distribution (never rescaled or steered by the query strategy), so it
        learns the teacher's average over them, its partial dependence on the
        other inputs. A network fitted with inputs that do not bear on its
        target responds to them with a small, arbitrary function (their
        first-layer weights start at random and are never trained away); a
        student that copies it copies that noise. ``"auto"``, for a torch or
        skorch teacher, reads the teacher's input sensitivity on the hold-out
        queries (``teacher_sensitivity_``) and averages over its *noise
        floor*: at least 2 features that hold at most 5% of the sensitivity
        together, lie within a factor 8 of each other and at least 4 times
        below every other feature (inputs that do not bear on the target are
        exchangeable to training, so their sensitivities cluster; see
        ``skdistill/_sensitivity.py``). Most teachers have none, and nothing
        changes. On the paper's puma32h teachers (4 of 32 inputs bear on the
        target) the floor was the other 28 at all 10 seeds, and the student's
        test RMSE fell from 0.970 to 0.824 times its teacher's, while its
        fidelity error to the teacher rose from 0.081 to 0.151: the student
        copies the teacher less and the truth more; on mv (2 or 3 of 10
        inputs averaged) the ratio fell from 1.060 to 1.049
        (``benchmarks/results/ablation_noise_features.md``). On synthetic
        sets with 5 to 25 irrelevant inputs the floor was those inputs
        (``benchmarks/results/noise_features.md``). ``"auto"`` averages over
        nothing for black-box teachers. ``None`` copies the teacher on every
        input. An array-like of feature indices, names (with
        ``feature_names_in_``) or a boolean mask names the features to average
        over, for any teacher. The features averaged over are
        ``noise_features_``.
    n_holdout : int, default=2048
        Synthetic hold-out queries, drawn from the domain's base distribution,
        used to score rounds and keep the best student.
    n_iter_no_change : int, default=None
        Stop after this many rounds without hold-out improvement. ``None``
        spends the whole budget (the best round is restored either way).
    max_time : float, default=None
        Stop after this many seconds of this call to ``fit``, keeping the best
        student so far. It is checked after every round, so a fit ends at
        most one round late: one teacher call of ``round_size`` queries, or
        ``2 * n_steps + 1`` smaller calls for a black-box teacher with the
        default ``"bounded_gap"`` strategy. With a slow teacher, lower
        ``round_size`` for a tighter stop.
    warm_start : bool, default=False
        When True and the distiller is fitted, ``fit`` goes on training the
        fitted ``student_`` (its weights and optimizer state) on
        ``max_queries`` new teacher queries, instead of starting afresh, as
        after an interrupted fit. The hold-out queries and the input and
        output standardisation of the first fit are kept, so hold-out scores
        stay comparable, and ``history_`` grows; the learning rate starts a new
        warm-up and cosine cycle (from ``learning_rate_``) over the new
        budget. The best round is restored as usual, so the student never ends
        worse on the hold-out queries than it started.
    checkpoint_dir : str or path-like, default=None
        A folder to checkpoint the fit into after every round (the newest
        two rounds are kept), in safe formats only: tensors read back with
        ``torch.load(..., weights_only=True)`` and JSON. When ``fit`` finds a
        checkpoint there, it resumes from it and ends as the uninterrupted fit
        would have (bit for bit on CPU with an integer ``random_state``). The
        checkpoint must come from the same teacher (checked on the probe
        queries, which a resumed fit asks again), domain and parameters;
        ``verbose``, ``n_threads``, ``max_time`` and ``checkpoint_dir`` itself
        may differ. A folder holding a finished fit's checkpoint gives that
        fit back: use a new folder to start over. ``None`` writes nothing.
    n_threads : int, "auto" or None, default="auto"
        Torch CPU threads during ``fit`` and ``predict`` (restored
        afterwards). "auto" uses
        one thread on CPU: two threads slow down sharply whenever another
        process wants a core. On a 2-core machine one thread was 13% slower
        when idle and 3x faster beside one busy process
        (``benchmarks/results/threads.md``). None leaves torch's setting.
    device : str or torch.device, default="auto"
        Where the student trains and queries are made: ``"auto"`` picks CUDA
        when available, else CPU.
    teacher_backend : {"auto", "predict", "hummingbird"}, default="auto"
        How a scikit-learn tree-ensemble teacher (decision tree, random
        forest, extra trees, gradient boosting, histogram gradient boosting)
        answers queries. ``"hummingbird"`` converts it once to a torch model
        on ``device`` with the optional ``hummingbird-ml`` package
        (``pip install 'skdistill[trees]'``) and raises if that is not
        installed, fails, or disagrees with the teacher's ``predict`` on the
        hold-out queries (beyond float32 rounding on more than 1% of them).
        ``"auto"`` tries the same and keeps whichever verified path is
        measured faster on ``device`` (on CPU, usually ``predict``); the
        choice is made once per teacher and device in a process.
        ``"predict"`` always calls ``predict``. The paths agree to float32
        rounding except on rare inputs within a rounding of a split
        threshold, so students fitted along different paths are close, not
        bit-identical. For other teachers ``"hummingbird"`` is an error and
        the other two options change nothing.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar over the teacher-query budget
        with the live hold-out fidelity (R², RMSE); 2 or more prints skorch's
        per-round table instead.
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice of the fit (queries, student
        initialisation). The same seed gives the same student on CPU. The
        global torch and numpy seeds are left untouched.

    Attributes
    ----------
    student_ : skorch.NeuralNetRegressor
        The fitted student (a :class:`~skdistill.StudentNet` by default). Its
        module maps raw inputs to the teacher's units (the standardisation is
        built in); ``student_.partial_fit(X, y)`` fine-tunes it on real rows
        with skorch's own loop.
    domain_ : InputDomain
        The domain queries came from, with its ``source``.
    query_strategy_ : QueryStrategy
        The fitted strategy object.
    history_ : DistillationHistory
        The student's skorch history. Per round: ``n_queries``,
        ``n_invalid_queries``, ``train_loss``, ``holdout_loss``,
        ``holdout_rmse``, ``holdout_r2``, ``seconds``, ``dur``;
        ``history_.to_frame()`` gives a pandas DataFrame.
    n_teacher_queries_ : int
        Teacher queries spent (labels, probe, hold-out and the student's
        start), over every fit of a warm start.
    n_invalid_queries_ : int
        Of those, the queries the teacher answered with NaN or inf. They are
        dropped (never used for training or scoring) with an
        :class:`~skdistill.exceptions.InvalidTeacherOutputWarning`; the fit
        stops with a ``ValueError`` only when nothing usable is left (all the
        probe queries, fewer than two hold-out queries, or every training
        query).
    stop_reason_ : {"max_queries", "max_time", "n_iter_no_change", \
"interrupted"}
        Why the last fit ended. ``"interrupted"`` is a ``KeyboardInterrupt``
        (Ctrl-C) during training: like skorch, ``fit`` then returns with the
        best round so far, with a
        :class:`~skdistill.exceptions.FitInterruptedWarning`.
    n_outputs_ : int
        Number of outputs of the teacher.
    device_ : torch.device
        The resolved device.
    teacher_backend_ : dict
        How the teacher was queried: ``path`` ("predict", "hummingbird" or,
        for torch teachers, "torch"), ``reason``, ``rows_per_s`` (measured
        throughput of each path timed), ``max_abs_diff`` and
        ``mismatch_fraction`` (the largest difference between the converted
        model and ``predict`` on the hold-out queries, and the share of them
        beyond float32 rounding: at most 1%, from inputs that fall within a
        rounding of a split threshold) and ``convert_seconds``. The timing
        calls repeat already answered queries and are not counted in
        ``n_teacher_queries_``.
    teacher_sensitivity_ : ndarray of shape (n_features_in_,) or None
        For a torch or skorch teacher: each feature's share of the teacher's
        mean squared input gradient on the hold-out queries, per standard
        unit of the domain (sums to 1). It ranks the inputs by how much the
        teacher responds to them on the domain. None for black-box teachers.
        The gradient pass repeats the hold-out queries and is not counted in
        ``n_teacher_queries_``. Also None for a torch teacher whose output
        has no input gradient.
    noise_features_ : ndarray of bool of shape (n_features_in_,)
        The features the student averages over (``noise_features``); it
        ignores them as inputs. All False when it copies the teacher on every
        input.
    student_init_ : dict
        How the student started: ``method`` ("teacher", "random" or, for a
        warm start or a resumed checkpoint, "carried") and ``reason``; when
        the teacher's first layer was read, also ``origin`` (where),
        ``n_queries`` (the queries spent on it), ``r2`` (of the least-squares
        fit of the teacher on the chosen units), ``n_units`` (student units
        taken from the teacher) and ``n_teacher_units``.
    learning_rate_ : float
        The default student's initial learning rate (``learning_rate``, with
        "auto" resolved).
    n_features_in_ : int
        Number of features seen by the teacher.
    feature_names_in_ : ndarray of str
        Feature names: the teacher's when it has them (a DataFrame given to
        ``fit(X)`` must then have the same columns, in order), else those of
        a DataFrame given to ``fit(X)``.

    See Also
    --------
    BoundedGapQueries : The default query strategy.
    InputDomain : Where queries may lie.
    fidelity_score : R² of the student against the teacher, without labels.

    Notes
    -----
    ``y`` is accepted by ``fit`` only so that scikit-learn tools can pass it;
    it is never used. In :class:`~sklearn.model_selection.GridSearchCV` or
    :func:`~sklearn.model_selection.cross_val_score`, each training fold's
    rows therefore serve only as unlabelled domain rows, and the held-out
    fold is scored.

    :meth:`score` follows the regressor convention: it is the R² of the
    student's predictions against the ``y`` it is given, so it measures
    accuracy on the task, which the teacher's own accuracy bounds. To select
    the student that copies the teacher best, without labels, score with
    :func:`fidelity_score` or pass ``scoring=fidelity_scorer``.

    The teacher is an input, like the estimator of
    :class:`~sklearn.frozen.FrozenEstimator` (which is accepted as a
    teacher): :func:`~sklearn.base.clone` keeps it by reference, its own
    parameters are hidden from ``get_params`` and refused by ``set_params``,
    and it is never refit or modified.

    References
    ----------
    .. [1] T. Zhou and K.-H. Chiam, "Synthetic data generation method for
       data-free knowledge distillation in regression neural networks",
       arXiv:2301.04338, 2023.
    .. [2] Y. Kang and S. Kang, "Data-free knowledge distillation in neural
       networks for regression", Expert Systems with Applications 175:114813,
       2021.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.ensemble import RandomForestRegressor
    >>> from skdistill import DataFreeDistillRegressor
    >>> X, y = make_friedman1(n_samples=300, random_state=0)
    >>> teacher = RandomForestRegressor(n_estimators=20, random_state=0).fit(X, y)
    >>> distiller = DataFreeDistillRegressor(
    ...     teacher, domain={"low": X.min(0), "high": X.max(0)},
    ...     max_queries=20_000, random_state=0,
    ... ).fit()
    >>> distiller.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints = {
        "teacher": "no_validation",  # checked, with better messages, by as_teacher
        "query_strategy": [StrOptions(set(_STRATEGIES)), QueryStrategy],
        "max_queries": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "round_size": [Interval(Integral, 1, None, closed="left")],
        "n_passes": [Interval(Integral, 1, None, closed="left")],
        "replay_rounds": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(_ACTIVATIONS))],
        "learning_rate": [
            Interval(Real, 0, None, closed="neither"),
            StrOptions({"auto"}),
        ],
        "learning_rate_warmup": [Interval(Real, 0, 1, closed="left")],
        "student": [NeuralNet, None],
        "student_init": [StrOptions({"auto", "teacher", "random"})],
        "domain": [dict, InputDomain, None],
        "n_features": [Interval(Integral, 1, None, closed="left"), None],
        "noise_features": [StrOptions({"auto"}), "array-like", None],
        "n_holdout": [Interval(Integral, 1, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "warm_start": ["boolean"],
        "checkpoint_dir": [str, os.PathLike, None],
        "n_threads": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "device": [str, torch.device],
        "teacher_backend": [StrOptions(set(TEACHER_BACKENDS))],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        teacher,
        *,
        query_strategy="bounded_gap",
        max_queries=400_000,
        batch_size=512,
        round_size=4096,
        n_passes=8,
        replay_rounds=8,
        hidden_layer_sizes=(50,),
        activation="tanh",
        learning_rate="auto",
        learning_rate_warmup=0.03,
        student=None,
        student_init="auto",
        domain=None,
        n_features=None,
        noise_features="auto",
        n_holdout=2048,
        n_iter_no_change=None,
        max_time=None,
        warm_start=False,
        checkpoint_dir=None,
        n_threads="auto",
        device="auto",
        teacher_backend="auto",
        verbose=0,
        random_state=None,
    ):
        self.teacher = teacher
        self.query_strategy = query_strategy
        self.max_queries = max_queries
        self.batch_size = batch_size
        self.round_size = round_size
        self.n_passes = n_passes
        self.replay_rounds = replay_rounds
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate = learning_rate
        self.learning_rate_warmup = learning_rate_warmup
        self.student = student
        self.student_init = student_init
        self.domain = domain
        self.n_features = n_features
        self.noise_features = noise_features
        self.n_holdout = n_holdout
        self.n_iter_no_change = n_iter_no_change
        self.max_time = max_time
        self.warm_start = warm_start
        self.checkpoint_dir = checkpoint_dir
        self.n_threads = n_threads
        self.device = device
        self.teacher_backend = teacher_backend
        self.verbose = verbose
        self.random_state = random_state

    def __sklearn_clone__(self):
        # The teacher is an input, like FrozenEstimator's estimator: clone
        # would deep-copy it into an unfitted model. Keep it by reference and
        # clone every other parameter as usual.
        params = self.get_params(deep=False)
        cloned = {
            name: value if name == "teacher" else clone(value, safe=False)
            for name, value in params.items()
        }
        return type(self)(**cloned)

    def get_params(self, deep=True):
        # Like FrozenEstimator: the teacher's own parameters are not
        # hyperparameters of the distiller, so searches cannot reach them.
        params = super().get_params(deep=deep)
        return {k: v for k, v in params.items() if not k.startswith("teacher__")}

    def set_params(self, **params):
        nested = sorted(name for name in params if name.startswith("teacher__"))
        if nested:
            # Setting them would change the user's fitted teacher in place
            # (a skorch teacher would even re-initialise its module).
            raise ValueError(
                f"Cannot set {nested}: the teacher is a fitted input and is never "
                "modified. Pass another fitted model as teacher=... instead."
            )
        return super().set_params(**params)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X=None, y=None):
        """Distill the teacher into the student.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Optional unlabelled rows. They only shape the input domain (its
            mean, scale and bounds); they are never training inputs.
        y : ignored
            Accepted for compatibility with scikit-learn tools such as
            ``GridSearchCV``; never used as a training label.

        Returns
        -------
        self : DataFreeDistillRegressor
            The fitted distiller.
        """
        start_time = time.perf_counter()
        if self.max_queries <= self.n_holdout + _PROBE_SIZE:
            raise ValueError(
                f"max_queries={self.max_queries} leaves nothing for training after "
                f"n_holdout={self.n_holdout} hold-out queries; raise max_queries or "
                "lower n_holdout."
            )
        hidden_layer_sizes = _check_hidden_layer_sizes(self.hidden_layer_sizes)
        self.device_ = _resolve_device(self.device)
        # Validated before the teacher is asked anything.
        strategy = resolve_strategy(self.query_strategy)
        # A warm start continues the fitted student; a checkpoint, a crashed fit.
        carried = None
        if self.warm_start and hasattr(self, "student_"):
            carried = self._carry_from_previous_fit()
        elif self.checkpoint_dir is not None:
            checkpoint = load_checkpoint(self.checkpoint_dir)
            if checkpoint is not None:
                carried = self._carry_from_checkpoint(checkpoint)
        if X is not None:
            X = validate_data(
                self, X, dtype=[np.float64, np.float32], ensure_min_samples=2
            )
        # n_features is checked against the teacher by as_teacher, X below.
        n_features = self.n_features
        if n_features is None and X is not None:
            n_features = self.n_features_in_
        seed = self._seed(carried)

        # Every torch draw below comes from `seed`; the caller's global RNG
        # state is restored afterwards.
        devices = [self.device_] if self.device_.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), _torch_threads(self._n_threads()):
            torch.manual_seed(seed)
            generator = torch.Generator(device=self.device_).manual_seed(seed)

            # 1. The teacher, behind one adapter interface.
            teacher = as_teacher(self.teacher, n_features, self.device_)
            if X is None:
                self.n_features_in_ = teacher.n_features
                if hasattr(self, "feature_names_in_"):  # from an earlier fit(X)
                    del self.feature_names_in_
            elif X.shape[1] != teacher.n_features:
                raise ValueError(
                    f"X has {X.shape[1]} features but the teacher takes "
                    f"{teacher.n_features}."
                )
            self._take_teacher_feature_names()

            # 2. The input domain.
            self.domain_ = self._resolve_domain(X, teacher, seed)
            teacher.domain = self.domain_  # named in the teacher's error messages

            # 3. Probe the teacher, then label the synthetic hold-out set (a
            # continued fit keeps its own, so that scores stay comparable).
            probe = self._probe_teacher(teacher, generator)
            if carried is None:
                x_holdout, y_holdout = self._label_holdout(teacher, generator)
            else:
                x_holdout, y_holdout = self._check_carried(carried, teacher, probe)
            # The hold-out labels double as the reference that a faster query
            # path (a tree ensemble as torch tensors) must reproduce.
            self.teacher_backend_ = teacher.compile(
                x_holdout, y_holdout, self.teacher_backend
            )
            self.n_outputs_ = y_holdout.shape[1]
            self._teacher_output_1d = teacher.output_1d
            y_loc = y_holdout.mean(dim=0, keepdim=True)
            y_scale = y_holdout.std(dim=0, keepdim=True)
            y_scale = torch.where(y_scale > 0, y_scale, torch.ones_like(y_scale))

            # 4. The teacher's noise inputs: the student averages over them.
            self.teacher_sensitivity_, self.noise_features_ = self._noise_features(
                teacher, x_holdout, y_scale
            )
            if self.noise_features_.any():
                self.domain_ = self.domain_.ignoring(self.noise_features_)
                teacher.domain = self.domain_

            # 5. Where the student starts: the teacher's own first layer when
            # it shows one (one more set of labelled queries fits the output
            # layer on it), else at random.
            first_layer, x_init, y_init = self._start_from_teacher(
                teacher, probe, generator, carried, hidden_layer_sizes
            )

            # 6. The student, trained in standardised units.
            budget = self.max_queries - teacher.n_queries
            if carried is not None:
                budget = carried["budget"] or budget
                teacher.n_queries += carried["n_teacher_queries"]
                teacher.n_invalid += carried["n_invalid_queries"]
            n_rounds = math.ceil(budget / self.round_size)
            self.learning_rate_ = self._resolve_learning_rate()
            student = self._build_student(n_rounds, hidden_layer_sizes, y_scale)
            student.set_params(
                callbacks=list(student.callbacks or [])
                + self._round_callbacks(
                    x_holdout, y_holdout, y_scale, teacher, start_time, carried
                )
            )
            student.initialize()
            # The bare module trains on standardised queries and targets (the
            # stream maps each round once); the wrapper around it maps raw
            # inputs to the teacher's units for the query strategy, the
            # hold-out score and, once fitted, `student_`.
            x_loc, x_scale = self.domain_.loc, self.domain_.input_scale
            if carried is not None and carried["x_units"] is not None:
                # A warm start keeps the input units its weights were fitted in,
                # whatever the domain of this fit.
                x_loc, x_scale = carried["x_units"]
            standardized = StandardizedModule(
                student.module_,
                x_loc,
                x_scale,
                y_loc.reshape(-1).cpu(),
                y_scale.reshape(-1).cpu(),
            ).to(self.device_)
            if first_layer is not None:
                self._init_from_teacher(
                    student.module_, first_layer, x_init, y_init, standardized
                )
            student.criterion_ = torch.nn.MSELoss().to(self.device_)
            student.initialize_optimizer()
            dict(student.callbacks_)["holdout_fidelity"].module = standardized
            if carried is not None:
                self._load_carried_student(student, carried)

            # 7. The query strategy, fed by the student and the teacher.
            context = QueryContext(
                teacher=teacher,
                student=standardized,
                domain=self.domain_,
                y_loc=y_loc,
                y_scale=y_scale,
                generator=generator,
                rng=np.random.default_rng(seed),
                device=self.device_,
            )
            strategy.start(context)
            rounds = QueryRounds(strategy, context, self.round_size, budget)
            # The student's steps draw from a replay window of recent rounds
            # (never larger than the budget: rows beyond it would stay empty).
            window = min(self.replay_rounds * self.round_size, budget)
            stream = SyntheticQueryStream(
                rounds,
                self.batch_size,
                self.n_passes,
                generator,
                standardized,
                window=window if self.replay_rounds > 1 else None,
                # The start's queries (when labelled) train the student too.
                initial=None if x_init is None else (x_init, y_init),
            )
            if carried is not None and carried["rounds"] is not None:
                self._restore_rounds(carried["rounds"], stream, generator)
            checkpoint_callback = dict(student.callbacks_).get("checkpoint")
            if checkpoint_callback is not None:
                checkpoint_callback.capture = partial(
                    capture_state,
                    teacher=teacher,
                    stream=stream,
                    generator=generator,
                    rng=context.rng,
                    strategy=strategy,
                    holdout=(x_holdout, y_holdout),
                    probe=probe,
                    domain=self.domain_,
                    meta={
                        "params": params_fingerprint(self.get_params(deep=False)),
                        "seed": seed,
                        "teacher": teacher.name,
                        "device": self.device_.type,
                        "budget": budget,
                    },
                )

            # 8. Rounds: queries -> teacher labels -> student steps -> hold-out
            # score (-> checkpoint). A Ctrl-C ends training like skorch does.
            student.set_params(max_epochs=rounds.n_rounds)
            student.partial_fit(stream)
            # The fitted net maps raw inputs to the teacher's units.
            student.module_ = standardized
            student.criterion_ = StandardizedMSELoss(y_scale.reshape(-1).cpu()).to(
                self.device_
            )

        self.student_ = student
        self.query_strategy_ = strategy
        self.history_ = student.history
        self.n_teacher_queries_ = teacher.n_queries
        self._end_fit(teacher, rounds, carried)
        return self

    # -- fit helpers, in the order fit uses them ----------------------------
    def _n_threads(self):
        if self.n_threads == "auto":
            return 1 if self.device_.type == "cpu" else None
        return self.n_threads

    def _seed(self, carried):
        """The fit's one seed; a resumed fit reuses its checkpoint's."""
        if carried is not None and carried["seed"] is not None:
            return carried["seed"]
        random_state = check_random_state(self.random_state)
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        if carried is not None:  # a warm start: new queries, not the first fit's
            rounds_so_far = len(carried["history"])
            state = np.random.SeedSequence([seed, rounds_so_far]).generate_state(1)
            seed = int(state[0] % np.iinfo(np.int32).max)
        return seed

    def _carry_from_previous_fit(self):
        """What a warm start keeps of the fitted student, in checkpoint form."""
        student = self.student_
        history = list(student.history)
        holdout = dict(student.callbacks_)["holdout_fidelity"]
        scored = [
            (row["holdout_loss"], row["epoch"])
            for row in history
            if "holdout_loss" in row
        ]
        keep_best = None
        if scored:
            # The student holds its best round: it is the one to beat.
            loss, epoch = min(scored)
            keep_best = {
                "dynamic_threshold_": loss,
                "best_epoch_": epoch,
                "misses_": 0,
                "best_model_weights_": student.module_.inner.state_dict(),
            }
        return {
            "seed": None,
            "checkpoint": None,
            "holdout": (holdout.x, holdout.y),
            "module": student.module_.inner.state_dict(),
            "x_units": (student.module_.x_loc.cpu(), student.module_.x_scale.cpu()),
            "optimizer": student.optimizer_.state_dict(),
            "new_cycle": True,
            "schedulers": None,
            "keep_best": keep_best,
            "history": history,
            "n_teacher_queries": self.n_teacher_queries_,
            "n_invalid_queries": self.n_invalid_queries_,
            "seconds": history[-1]["seconds"] if scored else 0.0,
            "budget": None,
            "rounds": None,
        }

    @staticmethod
    def _carry_from_checkpoint(checkpoint):
        """What a resumed fit takes from a checkpoint (read without pickle)."""
        tensors, meta = checkpoint.tensors, checkpoint.meta
        return {
            "seed": meta["seed"],
            "checkpoint": checkpoint,
            "holdout": (tensors["holdout_x"], tensors["holdout_y"]),
            "module": tensors["module"],
            "x_units": None,  # the domain is checked to be the checkpoint's
            "optimizer": tensors["optimizer"],
            "new_cycle": False,
            "schedulers": tensors["schedulers"],
            "keep_best": {
                **meta["keep_best"],
                "best_model_weights_": tensors["best_weights"],
            },
            "history": checkpoint.history,
            "n_teacher_queries": meta["n_teacher_queries"],
            "n_invalid_queries": meta["n_invalid_queries"],
            "seconds": meta["seconds"],
            "budget": meta["budget"],
            "rounds": {
                "used": meta["used"],
                "n_labelled": meta["n_labelled"],
                "generator": tensors["generator"],
                "torch_rng": tensors["torch_rng"],
                "numpy_rng": meta["numpy_rng"],
                "strategy": (tensors["strategy"], meta["strategy"]),
                "window": tensors["window"],
            },
        }

    def _take_teacher_feature_names(self):
        """Adopt the teacher's feature names; those of fit(X) must match them."""
        teacher_names = getattr(self.teacher, "feature_names_in_", None)
        if teacher_names is None:
            return
        teacher_names = np.asarray(teacher_names, dtype=object)
        names = getattr(
            self, "feature_names_in_", None
        )  # set by fit(X) for a DataFrame
        if names is not None and not np.array_equal(names, teacher_names):
            # The teacher is queried by its own column order: a reordered X
            # would silently put each feature's domain on another feature.
            raise ValueError(
                f"The columns of X {list(names)} differ from the teacher's "
                f"feature_names_in_ {list(teacher_names)}. Pass the teacher's "
                "columns, in its order: X[teacher.feature_names_in_]."
            )
        self.feature_names_in_ = teacher_names

    def _resolve_domain(self, X, teacher, seed):
        """Explicit domain > unlabelled rows > what the teacher reveals > N(0, 1)."""
        n_features = teacher.n_features
        if self.domain is not None:
            return InputDomain.from_param(self.domain, n_features)
        if X is not None:
            return InputDomain.from_data(X, random_state=seed)
        if not teacher.differentiable:
            inferred = infer_domain(self.teacher, n_features, random_state=seed)
            if inferred is not None:
                return inferred
            warnings.warn(
                f"Could not infer an input domain from the teacher {teacher.name}, so "
                "queries follow a standard normal per feature. That suits a teacher "
                "trained on standardised inputs only; for raw features, pass "
                "domain={'low': ..., 'high': ...} or unlabelled rows to fit(X).",
                UserWarning,
                stacklevel=4,  # _resolve_domain < fit < sklearn's fit wrapper < caller
            )
        return InputDomain.standard_normal(n_features)

    def _probe_teacher(self, teacher, generator):
        """Fail fast: ask the teacher a few queries before spending minutes.

        Returns the probe queries and the teacher's answers, which also
        identify the teacher when a checkpoint is resumed.
        """
        x = self.domain_.sample(_PROBE_SIZE, generator, self.device_)
        y = teacher.predict(x)
        if not teacher.drop_invalid(x, y)[0].shape[0]:
            raise ValueError(
                f"The teacher {teacher.name} returned NaN or inf on all "
                f"{_PROBE_SIZE} queries of a probe batch, so nothing usable is left. "
                + teacher._domain_hint()
            )
        return x, y

    def _label_holdout(self, teacher, generator):
        """Label the synthetic hold-out queries, dropping NaN or inf answers."""
        x = self.domain_.sample(self.n_holdout, generator, self.device_)
        x, y = teacher.drop_invalid(x, teacher.predict(x))
        if x.shape[0] < 2:
            raise ValueError(
                f"The teacher {teacher.name} returned NaN or inf on "
                f"{self.n_holdout - x.shape[0]} of {self.n_holdout} hold-out queries, "
                "so nothing usable is left (scoring the student needs at least 2 "
                "finite answers). " + teacher._domain_hint()
            )
        return x, y

    def _noise_features(self, teacher, x_holdout, y_scale):
        """The teacher's input sensitivity and the features to average over.

        Returns ``(sensitivity, mask)``: the sensitivity is None for a black-box
        teacher, or a torch teacher without input gradients; the mask is over
        all features.
        """
        domain = self.domain_
        n = domain.n_features
        sensitivity = None
        if teacher.differentiable:
            sensitivity = input_sensitivity(teacher, x_holdout, domain.scale, y_scale)
        if self.noise_features is None:
            return sensitivity, np.zeros(n, dtype=bool)
        if isinstance(self.noise_features, str):  # "auto"
            if sensitivity is None:
                return None, np.zeros(n, dtype=bool)
            eligible = (domain.scale > 0) & ~domain.ignored
            return sensitivity, noise_floor(sensitivity, eligible)
        return sensitivity, self._given_noise_features(n)

    def _given_noise_features(self, n):
        """``noise_features`` given as indices, names or a mask, as a mask."""
        given = np.asarray(self.noise_features)
        if given.ndim != 1:
            raise ValueError(
                "noise_features must be 'auto', None, or a 1-D array-like of feature "
                f"indices, names or booleans; got an array of shape {given.shape}."
            )
        mask = np.zeros(n, dtype=bool)
        if given.size == 0:
            return mask
        if given.dtype.kind == "b":
            if given.shape[0] != n:
                raise ValueError(
                    f"noise_features as a boolean mask needs {n} values, one per "
                    f"feature; got {given.shape[0]}."
                )
            return given.copy()
        if given.dtype.kind in "USO":
            names = getattr(self, "feature_names_in_", None)
            if names is None:
                raise ValueError(
                    "noise_features names features, but neither the teacher nor "
                    "fit(X) gave feature names; pass feature indices instead."
                )
            lookup = {str(name): j for j, name in enumerate(names)}
            unknown = [str(g) for g in given if str(g) not in lookup]
            if unknown:
                raise ValueError(
                    f"noise_features names {unknown}, which are not among the "
                    f"features {list(map(str, names))}."
                )
            mask[[lookup[str(g)] for g in given]] = True
            return mask
        if given.dtype.kind not in "iu":
            raise ValueError(
                "noise_features must hold feature indices (integers), names "
                f"(strings) or booleans; got values of dtype {given.dtype}."
            )
        bad = given[(given < -n) | (given >= n)]
        if bad.size:
            raise ValueError(
                f"noise_features holds indices {bad.tolist()} outside the {n} features."
            )
        mask[given] = True
        return mask

    def _start_from_teacher(self, teacher, probe, generator, carried, hidden_sizes):
        """Read the teacher's first layer and label the queries to fit on it.

        Returns ``(first_layer, x, y)``, all None when the student starts at
        random (or from a carried student); sets ``student_init_``.
        """
        none = None, None, None
        if carried is not None:
            self.student_init_ = {
                "method": "carried",
                "reason": "the fit continues a fitted student",
            }
            return none
        if self.student_init == "random":
            self.student_init_ = {"method": "random", "reason": "student_init='random'"}
            return none
        depth = mlp_student_depth(self.student, hidden_sizes)
        first_layer = None
        if depth is None:
            reason = "the student's module is not an MLPStudent"
        elif depth > 1 and self.student_init == "auto":
            reason = (
                "student_init='auto' starts only one-hidden-layer students from the "
                "teacher; student_init='teacher' starts the first layer of deeper ones"
            )
        else:
            first_layer, reason = find_first_layer(
                teacher, probe[0], self.domain_.scale
            )
        if first_layer is not None:
            # At most a quarter of what the hold-out leaves, so that a small
            # budget still trains on most of its queries.
            n = min(self.round_size, (self.max_queries - teacher.n_queries) // 4)
            x = self.domain_.sample(n, generator, self.device_)
            x, y = teacher.drop_invalid(x, teacher.predict(x))
            if x.shape[0] < 2:
                first_layer = None
                reason = (
                    f"the teacher answered {x.shape[0]} of the {n} queries that "
                    "would fit the start"
                )
        if first_layer is None:
            if self.student_init == "teacher":
                raise ValueError(
                    f"student_init='teacher' cannot start the student from the "
                    f"teacher {teacher.name}: {reason}. Use student_init='auto' "
                    "(which then starts at random) or 'random'."
                )
            self.student_init_ = {"method": "random", "reason": reason}
            return none
        self.student_init_ = {
            "method": "teacher",
            "reason": "the teacher's first layer",
            "origin": first_layer.origin,
            "n_queries": int(n),
        }
        return first_layer, x, y

    def _init_from_teacher(self, module, first_layer, x, y, units):
        """Start the bare student module from the teacher's first layer (or not)."""
        forced = self.student_init == "teacher"
        record = init_from_first_layer(
            module,
            first_layer,
            x,
            y,
            units,
            ignored=self.domain_.ignored,
            min_r2=None if forced else _INIT_MIN_R2,
        )
        if not record.pop("applied"):
            self.student_init_.update(
                method="random",
                reason=(
                    f"the teacher's {record['n_units']} most important first-layer "
                    f"units reproduce it with R² {record['r2']:.3f} < {_INIT_MIN_R2} "
                    "on the domain"
                ),
            )
        self.student_init_.update(record)

    def _check_carried(self, carried, teacher, probe):
        """Check that a warm start or checkpoint fits this teacher; return its hold-out."""
        checkpoint = carried["checkpoint"]
        if checkpoint is not None:
            check_resumable(
                checkpoint,
                params_fingerprint(self.get_params(deep=False)),
                teacher,
                self.device_,
                self.domain_,
                probe,
            )
        x, y = (t.to(self.device_) for t in carried["holdout"])
        what = "the checkpoint" if checkpoint is not None else "the fitted student_"
        if x.shape[1] != teacher.n_features or y.shape[1] != probe[1].shape[1]:
            raise ValueError(
                f"The teacher takes {teacher.n_features} features and returns "
                f"{probe[1].shape[1]} outputs, but {what} was fitted for "
                f"{x.shape[1]} and {y.shape[1]}. Set warm_start=False (or another "
                "checkpoint_dir) to start afresh."
            )
        return x, y

    def _load_carried_student(self, student, carried):
        """Put the continued student's weights, history and optimizer in place."""
        try:
            student.module_.load_state_dict(carried["module"])
        except RuntimeError as exc:
            raise ValueError(
                "warm_start=True continues the fitted student_, but the student the "
                "current parameters build has another architecture. Set "
                "warm_start=False to start afresh."
            ) from exc
        student.history.extend(deepcopy(carried["history"]))
        if carried["new_cycle"]:
            # A warm start keeps the optimizer's running statistics but takes
            # the current hyperparameters: a new learning-rate cycle.
            fresh = [
                {k: v for k, v in group.items() if k != "params"}
                for group in student.optimizer_.param_groups
            ]
            student.optimizer_.load_state_dict(carried["optimizer"])
            for group, hyperparameters in zip(student.optimizer_.param_groups, fresh):
                group.update(hyperparameters)
                group["initial_lr"] = group["lr"]

    def _restore_rounds(self, state, stream, generator):
        """Put a resumed fit's query stream where the checkpoint left it."""
        rounds = stream.rounds
        stream.load_window_state(state["window"], self.device_)
        tensors, meta = state["strategy"]
        restore_strategy(rounds.strategy, tensors, meta, self.device_)
        rounds.used = state["used"]
        rounds.n_labelled = state["n_labelled"]
        generator.set_state(state["generator"])
        rounds.context.rng.bit_generator.state = state["numpy_rng"]
        torch.set_rng_state(state["torch_rng"])

    def _end_fit(self, teacher, rounds, carried):
        """Record why the fit ended; warn about dropped queries and interrupts."""
        student = self.student_
        callbacks = dict(student.callbacks_)
        if callbacks.get("checkpoint") is not None:
            callbacks["checkpoint"].capture = None  # let the live fit go
        partial_round = bool(student.history) and (
            "holdout_loss" not in student.history[-1]
        )
        if partial_round:  # cut short: its student was not scored, nor kept
            student.history.pop()
        if callbacks["stop"].reason_ is not None:
            self.stop_reason_ = callbacks["stop"].reason_
        elif rounds.exhausted and (rounds.ran_out or not partial_round):
            self.stop_reason_ = "max_queries"
        else:
            self.stop_reason_ = "interrupted"
        self.n_invalid_queries_ = teacher.n_invalid
        carried_invalid = carried["n_invalid_queries"] if carried else 0
        carried_queries = carried["n_teacher_queries"] if carried else 0
        if teacher.n_invalid > carried_invalid:
            warnings.warn(
                f"The teacher {teacher.name} returned NaN or inf on "
                f"{teacher.n_invalid - carried_invalid} of "
                f"{teacher.n_queries - carried_queries} queries. They were dropped "
                "and training went on with the rest (n_invalid_queries_ counts them; "
                "the history's n_invalid_queries, per round). "
                + teacher._domain_hint(),
                InvalidTeacherOutputWarning,
                stacklevel=4,  # _end_fit < fit < sklearn's fit wrapper < caller
            )
        if self.stop_reason_ == "interrupted":
            best = callbacks["keep_best"].best_epoch_
            resume = (
                f", or with checkpoint_dir={self.checkpoint_dir!r} (and "
                "warm_start=False) to resume from the last saved round"
                if self.checkpoint_dir is not None
                else ""
            )
            warnings.warn(
                f"fit was interrupted (KeyboardInterrupt) after {len(student.history)} "
                f"complete rounds and {teacher.n_queries} teacher queries. The "
                f"student is the best round so far (round {best}; round 0 means "
                "none was complete) and predicts as usual. Fit again with "
                f"warm_start=True to continue from it{resume}.",
                FitInterruptedWarning,
                stacklevel=4,
            )

    def _resolve_learning_rate(self):
        if self.learning_rate != "auto":
            return float(self.learning_rate)
        domain = self.domain_
        n_varying = int(np.sum((domain.scale > 0) & ~np.asarray(domain.ignored)))
        return (
            _BASE_LEARNING_RATE
            * math.sqrt(self.batch_size / _BASE_BATCH_SIZE)
            * min(1.0, math.sqrt(16 / max(n_varying, 1)))
        )

    def _build_student(self, n_rounds, hidden_layer_sizes, y_scale):
        n_outputs = y_scale.shape[1]
        if self.student is None:
            student = StudentNet(
                MLPStudent,
                module__n_features=self.n_features_in_,
                module__n_outputs=n_outputs,
                module__hidden_layer_sizes=hidden_layer_sizes,
                module__activation=self.activation,
                optimizer=LeanAdam,
                lr=self.learning_rate_,
                **{
                    f"optimizer__{key}": value
                    for key, value in fused_optimizer_kwargs(self.device_).items()
                },
                callbacks=[
                    (
                        "lr_schedule",
                        LRScheduler(
                            WarmupCosineLR,
                            T_max=n_rounds,
                            warmup=max(1, round(self.learning_rate_warmup * n_rounds)),
                            eta_min=self.learning_rate_ / 100,
                            # A new cycle on warm start, not skorch's default
                            # of going on from the history's length.
                            last_epoch=-1,
                        ),
                    )
                ],
            )
        else:
            student = clone(self.student)
        student.set_params(
            max_epochs=n_rounds,
            batch_size=self.batch_size,
            train_split=None,
            iterator_train=ReadyBatches,  # the stream yields ready batches
            device=self.device_,
            verbose=int(self.verbose >= 2),  # 1 is QueryProgressBar's
            warm_start=False,
        )
        student.history_ = DistillationHistory()  # kept by initialize()
        return student

    def _round_callbacks(
        self, x_holdout, y_holdout, y_scale, teacher, start_time, carried=None
    ):
        # The history's seconds go on from those of a continued fit.
        seconds_before = carried["seconds"] if carried is not None else 0.0
        callbacks = [
            (
                "holdout_fidelity",
                HoldoutFidelity(
                    x_holdout, y_holdout, y_scale, teacher, start_time - seconds_before
                ),
            ),
        ]
        if self.verbose == 1:  # before "stop", which may end the fit
            callbacks.append(("progress", QueryProgressBar(self.max_queries, teacher)))
        callbacks += [
            (
                "keep_best",
                EarlyStopping(
                    monitor="holdout_loss",
                    patience=np.iinfo(np.int64).max,  # "stop" ends the fit
                    threshold=0,
                    load_best=True,
                    sink=print if self.verbose else _silent,
                ),
            ),
        ]
        if self.checkpoint_dir is not None:  # after keep_best, whose state it saves
            callbacks.append(("checkpoint", RoundCheckpoint(self.checkpoint_dir)))
        if carried is not None:  # after lr_schedule and keep_best, which it restores
            callbacks.append(
                (
                    "resume",
                    ResumeState(
                        keep_best=carried["keep_best"],
                        optimizer=None
                        if carried["new_cycle"]
                        else carried["optimizer"],
                        schedulers=carried["schedulers"],
                    ),
                )
            )
        callbacks.append(
            ("stop", StopRounds(self.max_time, self.n_iter_no_change, start_time))
        )
        return callbacks

    # -- prediction -------------------------------------------------------
    def predict(self, X):
        """Predict with the student, in the teacher's units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Raw inputs, as the teacher takes them.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Shaped like the teacher's own predictions.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float32)
        # The module directly, in large chunks: skorch's predict fetches rows
        # one by one through a DataLoader, which costs more than the network.
        if not X.flags.writeable:  # e.g. pandas' read-only views: torch warns
            X = X.copy()
        module = self.student_.module_.eval()
        device = next((p.device for p in module.parameters()), torch.device("cpu"))
        chunks = []
        with torch.inference_mode(), _torch_threads(self._n_threads()):
            for start in range(0, X.shape[0], _PREDICT_BATCH):
                batch = torch.from_numpy(X[start : start + _PREDICT_BATCH]).to(device)
                chunks.append(module(batch).cpu().numpy())
        y = np.concatenate(chunks).astype(np.float64)
        if self._teacher_output_1d:
            y = y.reshape(-1)
        return y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        return tags


def _check_fitted_distiller(obj, caller, accepted="a fitted DataFreeDistillRegressor"):
    """Raise unless ``obj`` is a fitted distiller (for the package's functions)."""
    if not isinstance(obj, DataFreeDistillRegressor):
        raise TypeError(f"{caller} needs {accepted}; got {type(obj).__name__}.")
    check_is_fitted(obj)
