"""DataFreeDistillRegressor: distill a fitted regressor into a small network, no data needed."""

import math
import os
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet, NeuralNetRegressor
from skorch.callbacks import LRScheduler

from ._checkpoint import FitState, RoundCheckpoint, load_checkpoint, params_fingerprint
from ._domain import InputDomain
from ._hummingbird import TEACHER_BACKENDS
from ._initialization import plan_start
from ._introspection import infer_domain
from ._polynomial import polynomial_degree
from ._progress import QueryProgressBar
from ._queries import _STRATEGIES, QueryContext, QueryStrategy, resolve_strategy
from ._schedule import WarmupCosineLR
from ._sensitivity import noise_feature_mask
from ._student import _ACTIVATIONS, MLPStudent, fused_optimizer_kwargs, n_monomials
from ._teachers import FittedTeacherMixin, as_teacher, is_sklearn_network
from ._training import (
    HoldoutFidelity,
    KeepBestRound,
    QueryRounds,
    ReadyBatches,
    StopRounds,
    StudentNet,
    SyntheticQueryStream,
)
from .exceptions import (
    FitInterruptedWarning,
    InvalidTeacherOutputWarning,
    LowFidelityWarning,
)

__all__ = ["DataFreeDistillRegressor"]

_PROBE_SIZE = 16
# hidden_layer_sizes="auto": the paper's student for a network teacher (a
# smooth function of the kind it is), two layers for any other teacher (the
# steps and kinks of trees, neighbours and the like).
_NETWORK_STUDENT = (50,)
_PIECEWISE_STUDENT = (64, 64)
# A DataFrame teacher's student sees each categorical column one-hot: a wider
# input, and interactions between levels and numbers, take wider layers.
_TABLE_STUDENT = (128, 128)
_AUTO_STUDENT = {
    "network": _NETWORK_STUDENT,
    "piecewise": _PIECEWISE_STUDENT,
    "table": _TABLE_STUDENT,
    "polynomial": (),  # the monomials of the inputs, straight to the output
}
# n_passes="auto": three times the passes for the (64, 64) student of trees,
# neighbours and kernels, which steps more to follow them; the rest keep 8.
_AUTO_PASSES = {"network": 8, "piecewise": 24, "table": 8, "polynomial": 8}
# A teacher that is a polynomial of its inputs gets a student of its own form
# (no hidden layers, monomials in) while the monomials stay this few.
_MAX_POLYNOMIAL_TERMS = 1024
# Below this hold-out R², fit warns that the student copies the teacher poorly.
_LOW_HOLDOUT_R2 = 0.9
_PREDICT_BATCH = 65536
# The "auto" learning rate for up to 16 varying features and batches of
# _BASE_BATCH_SIZE queries.
_BASE_LEARNING_RATE = 1e-2
_BASE_BATCH_SIZE = 256


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


@contextmanager
def _seeded_torch(seed, device):
    """Seed torch's global generator for the fit, restoring the caller's state."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _target_units(y):
    """Per-output mean and scale of the teacher's answers (scale 1 if constant)."""
    y_loc = y.mean(dim=0, keepdim=True)
    y_scale = y.std(dim=0, keepdim=True)
    return y_loc, torch.where(y_scale > 0, y_scale, torch.ones_like(y_scale))


def _as_student_net(student):
    """A clone of the ``student`` parameter, as a :class:`StudentNet`."""
    if isinstance(student, StudentNet):
        return clone(student)
    if type(student) in (NeuralNet, NeuralNetRegressor):
        params = clone(student).get_params(deep=False)
        return StudentNet(**{k: v for k, v in params.items() if not k.startswith("_")})
    raise TypeError(
        f"student must be a StudentNet, or a plain skorch NeuralNet or "
        f"NeuralNetRegressor whose settings a StudentNet takes over; got a "
        f"{type(student).__name__}. Subclass skdistill.StudentNet to change how "
        "the student steps."
    )


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


class DataFreeDistillRegressor(FittedTeacherMixin, RegressorMixin, BaseEstimator):
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
        Queries per student step.

        .. versionchanged:: 0.1
           512 instead of 256.
    round_size : int, default=4096
        Queries per round: one batched teacher call, one strategy update and
        one hold-out score (one skorch epoch).
    n_passes : int or "auto", default="auto"
        Student steps per round, in passes of ``round_size`` rows: each
        round takes ``n_passes * round_size / batch_size`` steps. "auto" is
        24 for trees, boosting, neighbours and kernels (the teachers whose
        "auto" student is ``(64, 64)``), whose steps and kinks take a student
        more steps to follow (they cost no teacher queries), and 8 for every
        other teacher: networks, polynomials and DataFrame teachers. The
        value used is ``n_passes_``.

        .. versionchanged:: 0.1
           "auto" instead of 8.
    replay_rounds : int, default=8
        Rounds of labelled queries that a round's student steps draw from (a
        replay window on the device); 1 trains each round on its own queries.
    hidden_layer_sizes : "auto" or tuple of int, default="auto"
        Hidden layers of the default student. "auto" is ``(50,)`` for a
        network teacher (a torch module, a skorch net, or an
        ``MLPRegressor``, also behind a Pipeline or wrapper), whose smooth
        function a one-layer student copies well; ``(128, 128)`` for a
        teacher fitted on a DataFrame with text or category columns, whose
        student takes them one-hot; ``()`` for a teacher that is a
        polynomial of its inputs (a linear regressor, also after scalers,
        PCA and ``PolynomialFeatures`` in a Pipeline), whose student is then
        a polynomial of the same degree (``student_degree_``) that matches
        it wherever the inputs lie, with no domain needed; and ``(64, 64)``
        for any other teacher: trees, boosting, neighbours and kernels have
        steps and kinks that a second layer follows better. The value used
        is ``hidden_layer_sizes_``.

        .. versionchanged:: 0.1
           "auto" instead of ``(50,)``.
    activation : {"tanh", "relu", "logistic", "gelu", "silu"}, default="tanh"
        Hidden activation of the default student.
    learning_rate : float or "auto", default="auto"
        Initial learning rate of the default student's Adam optimizer, on a
        warm-up and cosine schedule over the budget. "auto" is ``1e-2 *
        sqrt(batch_size / 256) * min(1, sqrt(16 / d))`` for ``d`` features
        that vary in the domain. The value used is ``learning_rate_``.
    learning_rate_warmup : float in [0, 1), default=0.03
        Fraction of the rounds over which the learning rate rises linearly.
    student : skorch.NeuralNet, default=None
        An unfitted skorch net to train instead of the default MLP: a
        :class:`~skdistill.StudentNet`, or a plain skorch net whose settings
        a ``StudentNet`` takes over. Its module takes ``n_features`` inputs
        and returns ``n_outputs`` values; ``train_split``, the criterion, the
        batching and ``max_epochs`` are the distiller's.
    student_init : {"auto", "teacher", "random"}, default="auto"
        Where the student's weights start. ``"teacher"`` starts its first
        layer from the most important first-layer units of a network teacher
        (torch, skorch or ``MLPRegressor``) and fits a one-layer student's
        output layer by least squares on ``min(round_size, budget // 4)``
        extra queries; it raises when the teacher shows no first layer.
        ``"auto"`` does so for a one-hidden-layer student when those units
        fit the teacher with R² of at least 0.8, else starts at random, as
        ``"random"`` does. A student without hidden layers (linear in its
        inputs or their monomials) starts, with either, from the
        coefficients of a polynomial teacher of at most its degree, which it
        keeps, else from its least-squares fit of the teacher on such
        queries, kept unless a round beats it on the hold-out. See
        ``student_init_``.
    domain : dict or InputDomain, default=None
        Where queries may lie. ``None`` uses the rows of ``fit(X)``, else
        what the fitted teacher reveals, else a standard normal per feature.
        ``{"low": ..., "high": ...}`` is a uniform box; ``{"loc": ...,
        "scale": ...}`` (with optional bounds) a normal distribution.
    n_features : int, default=None
        Number of input features, for teachers that do not reveal it.
    noise_features : "auto", array-like or None, default="auto"
        Inputs the student averages over instead of copying (not inputs of
        the student; queries draw them from the domain's base distribution).
        ``"auto"``, for a torch or skorch teacher, takes the noise floor of
        its input sensitivities (``teacher_sensitivity_``): at least 2
        features holding at most 5% of the sensitivity, within a factor 8 of
        each other and 4 times below every other; nothing for black boxes.
        ``None`` copies every input; indices, names or a mask name them.
    n_holdout : int, default=2048
        Synthetic hold-out queries, drawn from the domain's base distribution,
        used to score rounds and keep the best student.
    n_iter_no_change : int, default=None
        Stop after this many rounds without hold-out improvement. ``None``
        spends the whole budget (the best round is restored either way).
    max_time : float, default=None
        Stop after this many seconds of this call to ``fit`` (checked after
        every round), keeping the best student so far.
    warm_start : bool, default=False
        When True and fitted, ``fit`` goes on training ``student_`` on
        ``max_queries`` new queries, with the first fit's hold-out set and
        standardisation; ``history_`` grows, the learning rate starts a new
        cycle.
    checkpoint_dir : str or path-like, default=None
        A folder to checkpoint the fit into after every round, in safe
        formats only: tensors read back with
        ``torch.load(..., weights_only=True)``, and JSON. A ``fit`` that
        finds a checkpoint there resumes from it and ends as the
        uninterrupted fit would have (bit for bit on CPU with an integer
        ``random_state``), given the same teacher, domain and parameters.
    n_threads : int, "auto" or None, default="auto"
        Torch CPU threads during ``fit`` and ``predict``. "auto" uses one on
        CPU, which does not slow down when another process wants a core.
    device : str or torch.device, default="auto"
        Where the student trains and queries are made: ``"auto"`` picks CUDA
        when available, else CPU.
    teacher_backend : {"auto", "predict", "hummingbird"}, default="auto"
        How a scikit-learn tree ensemble answers queries: ``"hummingbird"``
        converts it to a torch model (optional ``hummingbird-ml``), checked
        against ``predict``; ``"auto"`` keeps whichever verified path is
        measured faster; ``"predict"`` always calls ``predict``.
    verbose : int, default=0
        0 is silent; 1 shows a progress bar over the teacher-query budget
        with the live hold-out fidelity; 2 or more prints skorch's per-round
        table instead.
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice of the fit. The same seed gives the same
        student on CPU. The global torch and numpy seeds are left untouched.

    Attributes
    ----------
    student_ : StudentNet
        The fitted skorch student: its module maps raw inputs to the
        teacher's units; ``partial_fit(X, y)`` fine-tunes it on real rows. It
        holds no teacher, query or hold-out set.
    domain_ : InputDomain
        The domain queries came from, with its ``source``.
    query_strategy_ : QueryStrategy
        The fitted strategy.
    history_ : DistillationHistory
        The student's skorch history, a row per round (queries, losses,
        hold-out scores, seconds); ``history_.to_frame()`` is a DataFrame.
    n_teacher_queries_ : int
        Teacher queries spent (labels, probe, hold-out and the student's
        start), over every fit of a warm start.
    n_invalid_queries_ : int
        Of those, the queries the teacher answered with NaN or inf, dropped
        with an :class:`~skdistill.exceptions.InvalidTeacherOutputWarning`.
    stop_reason_ : {"max_queries", "max_time", "n_iter_no_change", \
"interrupted"}
        Why the last fit ended. ``"interrupted"`` is a ``KeyboardInterrupt``
        (Ctrl-C) during training: ``fit`` then returns with the best round
        so far, with a :class:`~skdistill.exceptions.FitInterruptedWarning`.
    holdout_r2_ : float or None
        R² of the kept student against the teacher on the synthetic hold-out
        queries (None when no round was complete). Below 0.9, ``fit`` warns
        with a :class:`~skdistill.exceptions.LowFidelityWarning`. Measured on
        the query domain, it is optimistic where that domain misses the real
        inputs: only ``fit(X)`` or a good ``domain`` make it speak for them.
    n_outputs_ : int
        Number of outputs of the teacher.
    device_ : torch.device
        The resolved device.
    teacher_backend_ : dict
        How the teacher was queried: ``path`` ("predict", "hummingbird" or
        "torch"), ``reason``, and for tree ensembles the measured throughput
        of each path and the converted model's agreement with ``predict``.
    teacher_sensitivity_ : ndarray of shape (n_features_in_,) or None
        For a torch or skorch teacher: each feature's share of its mean
        squared input gradient on the hold-out queries, per standard unit of
        the domain. None for black-box teachers.
    noise_features_ : ndarray of bool of shape (n_features_in_,)
        The features the student averages over (``noise_features``).
    student_init_ : dict
        How the student started: ``method`` ("teacher", "least_squares",
        "random" or "carried"), ``reason``, and what was read off the
        teacher.
    hidden_layer_sizes_ : tuple of int
        The default student's hidden layers (``hidden_layer_sizes``, with
        "auto" resolved).
    student_degree_ : int
        Highest degree of the monomials of the inputs that the default
        student's first layer takes: the teacher's degree where
        ``hidden_layer_sizes="auto"`` chose a polynomial student, else 1 (the
        inputs themselves).
    learning_rate_ : float
        The default student's initial learning rate.
    n_passes_ : int
        Passes per round (``n_passes``, with "auto" resolved).
    n_features_in_ : int
        Number of features seen by the teacher.
    columns_ : TableSchema or None
        For a teacher fitted on a DataFrame with text or category columns:
        per column, its kind, levels, dtype and where each was learned (the
        teacher's encoders, categories or thresholds, or ``fit(X)``). The
        distiller works in its code space (one code per categorical column)
        and ``predict`` takes such DataFrames. None otherwise.
    feature_names_in_ : ndarray of str
        The teacher's feature names, else those of a DataFrame given to
        ``fit(X)``.

    See Also
    --------
    BoundedGapQueries : The default query strategy.
    InputDomain : Where queries may lie.
    fidelity_score : R² of the student against the teacher, without labels.

    Notes
    -----
    ``fit`` never uses ``y``: in ``GridSearchCV`` each training fold's rows
    only shape the domain. :meth:`score` is R² against the ``y`` given; to
    select the student that copies the teacher best, without labels, pass
    ``scoring=fidelity_scorer``. The teacher is an input, like the estimator
    of :class:`~sklearn.frozen.FrozenEstimator`: ``clone`` keeps it by
    reference and ``set_params`` refuses its own parameters.

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
        "n_passes": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "replay_rounds": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
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
        n_passes="auto",
        replay_rounds=8,
        hidden_layer_sizes="auto",
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
        self._check_budget()
        if not isinstance(self.hidden_layer_sizes, str):  # "auto" waits for the teacher
            _check_hidden_layer_sizes(self.hidden_layer_sizes)
        self.device_ = _resolve_device(self.device)
        strategy = resolve_strategy(self.query_strategy)  # before any teacher query
        state = self._fit_state()
        X = self._validate_rows(X)
        seed = _fit_seed(self.random_state, state)
        with _seeded_torch(seed, self.device_), _torch_threads(self._n_threads()):
            state.generator = torch.Generator(device=self.device_).manual_seed(seed)
            # 1. The teacher, behind one adapter interface.
            teacher = self._teacher_adapter(X)
            kind, degree = _teacher_kind(teacher, self.teacher, self.columns_)
            hidden_layer_sizes = self._student_size(kind, degree)
            self.n_passes_ = self._student_passes(kind)
            # 2. The input domain.
            self.domain_ = _resolve_domain(
                self.domain,
                X,
                teacher,
                self.teacher,
                seed,
                self.columns_,
                # The polynomial student of a polynomial teacher needs none.
                warn=not self._polynomial_student(),
            )
            teacher.domain = self.domain_  # named in the teacher's error messages
            # 3. The synthetic hold-out set, labelled by the teacher; the
            # student averages over the teacher's noise inputs.
            self._label_holdout(teacher, state)
            self._average_noise_features(teacher, state)
            # 4. The student: where it starts, then the skorch net.
            start = self._plan_start(teacher, state, hidden_layer_sizes)
            budget = self._training_budget(teacher, state)
            student = self._build_student(
                budget, hidden_layer_sizes, teacher, state, start, start_time
            )
            start.apply(student.module_.inner, student.module_, self.domain_.ignored)
            state.load_student(student)
            # 5. The queries: strategy -> teacher labels -> replay stream.
            stream = self._query_stream(
                strategy, student, teacher, seed, budget, start, state
            )
            # 6. Rounds: queries -> student steps -> hold-out score
            # (-> checkpoint). A Ctrl-C ends training like skorch does.
            student.partial_fit(stream)
        self._end_fit(student, strategy, teacher, stream.rounds, state)
        return self

    # -- fit phases, in the order fit uses them ------------------------------
    def _check_budget(self):
        if self.max_queries <= self.n_holdout + _PROBE_SIZE:
            raise ValueError(
                f"max_queries={self.max_queries} leaves nothing for training after "
                f"n_holdout={self.n_holdout} hold-out queries; raise max_queries or "
                "lower n_holdout."
            )

    def _fit_state(self):
        """A warm start continues the fitted student; a checkpoint, a crashed fit."""
        if self.warm_start and hasattr(self, "student_"):
            return FitState.from_fitted(self)
        if self.checkpoint_dir is not None:
            checkpoint = load_checkpoint(self.checkpoint_dir)
            if checkpoint is not None:
                return FitState.from_checkpoint(checkpoint)
        return FitState.from_scratch()

    def _student_size(self, kind, degree):
        """``hidden_layer_sizes_`` and ``student_degree_``, "auto" resolved."""
        sizes, self.student_degree_ = self.hidden_layer_sizes, 1
        if isinstance(sizes, str):  # "auto"
            sizes = _AUTO_STUDENT[kind]
            if kind == "polynomial":
                self.student_degree_ = degree
        self.hidden_layer_sizes_ = _check_hidden_layer_sizes(sizes)
        return self.hidden_layer_sizes_

    def _student_passes(self, kind):
        """``n_passes_``: "auto" resolved for the kind of teacher."""
        if self.n_passes != "auto":
            return self.n_passes
        return _AUTO_PASSES[kind]

    def _polynomial_student(self):
        """Whether "auto" gave the teacher a polynomial student of its own form."""
        return (
            self.student is None
            and isinstance(self.hidden_layer_sizes, str)
            and self.hidden_layer_sizes_ == ()
        )

    def _validate_rows(self, X):
        """Read the teacher's table columns (``columns_``); validate ``X``.

        With ``columns_``, ``X`` (a DataFrame) comes back in its code space.
        """
        self.columns_ = _read_columns(self.teacher, X)
        if X is None:
            return None
        if self.columns_ is None:
            return validate_data(
                self, X, dtype=[np.float64, np.float32], ensure_min_samples=2
            )
        return _known_codes(self.columns_, X)

    def _n_threads(self):
        if self.n_threads == "auto":
            return 1 if self.device_.type == "cpu" else None
        return self.n_threads

    def _teacher_adapter(self, X):
        """The teacher behind its adapter; sets the fitted feature attributes."""
        # n_features is checked against the teacher by as_teacher, X below.
        n_features = self.n_features
        if n_features is None and X is not None and self.columns_ is None:
            n_features = self.n_features_in_
        teacher = as_teacher(self.teacher, n_features, self.device_, self.columns_)
        if self.columns_ is not None:
            self.n_features_in_ = len(self.columns_.names)
            self.feature_names_in_ = np.asarray(self.columns_.names, dtype=object)
        elif X is None:
            self.n_features_in_ = teacher.n_features
            if hasattr(self, "feature_names_in_"):  # from an earlier fit(X)
                del self.feature_names_in_
        elif X.shape[1] != teacher.n_features:
            raise ValueError(
                f"X has {X.shape[1]} features but the teacher takes "
                f"{teacher.n_features}."
            )
        names = _teacher_feature_names(
            self.teacher, getattr(self, "feature_names_in_", None)
        )
        if names is not None:
            self.feature_names_in_ = names
        return teacher

    def _label_holdout(self, teacher, state):
        """Probe the teacher, then label the hold-out queries (or check the carried).

        The probe fails fast, before minutes are spent; its answers also
        identify the teacher when a checkpoint is resumed. A continued fit
        keeps its hold-out set, so that scores stay comparable.
        """
        state.probe = _label(
            teacher, self.domain_, _PROBE_SIZE, state, 1, "a probe batch"
        )
        if state.continued:
            fingerprint = params_fingerprint(self.get_params(deep=False))
            x, y = state.check(
                fingerprint, teacher, self.device_, self.domain_, state.probe
            )
        else:  # scoring the student needs at least 2 finite answers
            x, y = _label(
                teacher, self.domain_, self.n_holdout, state, 2, "the hold-out set"
            )
        state.holdout = self._holdout = (x, y)
        state.y_units = _target_units(y)
        # The hold-out labels double as the reference that a faster query
        # path (a tree ensemble as torch tensors) must reproduce.
        self.teacher_backend_ = teacher.compile(x, y, self.teacher_backend)
        self.n_outputs_ = y.shape[1]
        self._teacher_output_1d = teacher.output_1d

    def _average_noise_features(self, teacher, state):
        """Find the teacher's noise inputs; the domain then ignores them."""
        x, y = state.holdout
        self.teacher_sensitivity_, self.noise_features_ = noise_feature_mask(
            self.noise_features,
            teacher,
            x,
            self.domain_,
            state.y_units[1],
            getattr(self, "feature_names_in_", None),
        )
        if self.noise_features_.any():
            self.domain_ = self.domain_.ignoring(self.noise_features_)
            teacher.domain = self.domain_
        state.domain = self.domain_

    def _plan_start(self, teacher, state, hidden_layer_sizes):
        """Where the student starts; sets ``student_init_``."""
        # At most a quarter of what the hold-out leaves, so that a small
        # budget still trains on most of its queries.
        n_queries = min(self.round_size, (self.max_queries - teacher.n_queries) // 4)
        start = plan_start(
            self.student_init,
            self.student,
            hidden_layer_sizes,
            teacher,
            state.probe,
            self.domain_,
            n_queries,
            state.generator,
            self.device_,
            continued=state.continued,
            degree=self.student_degree_,
        )
        self.student_init_ = start.record
        return start

    def _training_budget(self, teacher, state):
        """Teacher queries left for training; counts go on from a continued fit."""
        budget = self.max_queries - teacher.n_queries
        if state.continued:
            budget = state.budget or budget
            teacher.n_queries += state.n_teacher_queries
            teacher.n_invalid += state.n_invalid_queries
        return budget

    def _build_student(
        self, budget, hidden_layer_sizes, teacher, state, start, start_time
    ):
        """The initialized skorch net, with its round callbacks and units."""
        n_rounds = math.ceil(budget / self.round_size)
        used = state.rounds["used"] if state.rounds is not None else 0
        self.learning_rate_ = _resolve_learning_rate(
            self.learning_rate, self.batch_size, self.domain_
        )
        if self.student is None:
            student = _default_student(
                self.n_features_in_ if self.columns_ is None else self.columns_,
                self.n_outputs_,
                hidden_layer_sizes,
                self.activation,
                self.learning_rate_,
                self.learning_rate_warmup,
                n_rounds,
                self.device_,
                degree=self.student_degree_,
            )
        else:
            student = _as_student_net(self.student)
        callbacks = self._round_callbacks(teacher, state, start, start_time)
        student.set_params(
            max_epochs=math.ceil((budget - used) / self.round_size),
            batch_size=self.batch_size,
            train_split=None,
            iterator_train=ReadyBatches,  # the stream yields ready batches
            device=self.device_,
            verbose=int(self.verbose >= 2),  # 1 is QueryProgressBar's
            warm_start=False,
            units=_student_units(self.domain_, state),
            callbacks=list(student.callbacks or []) + callbacks,
        )
        return student.initialize()

    def _round_callbacks(self, teacher, state, start, start_time):
        x_holdout, y_holdout = state.holdout
        # The history's seconds go on from those of a continued fit. A
        # least-squares start is the best of its kind on its queries: a round
        # must beat it; a polynomial teacher's own coefficients are final.
        holdout = HoldoutFidelity(
            x_holdout,
            y_holdout,
            state.y_units[1],
            teacher,
            start_time - state.seconds,
            start=start.holdout_role,
        )
        callbacks = [("holdout_fidelity", holdout)]
        if self.verbose == 1:  # before "stop", which may end the fit
            callbacks.append(("progress", QueryProgressBar(self.max_queries, teacher)))
        keep_best = KeepBestRound(
            resume=state.keep_best,
            holdout=holdout,
            monitor="holdout_loss",
            patience=np.iinfo(np.int64).max,  # "stop" ends the fit
            threshold=0,
            load_best=True,
            sink=print if self.verbose else _silent,
        )
        callbacks.append(("keep_best", keep_best))
        if self.checkpoint_dir is not None:  # after keep_best, whose state it saves
            state.meta = {
                "params": params_fingerprint(self.get_params(deep=False)),
                "seed": state.seed,
                "teacher": teacher.name,
                "device": self.device_.type,
            }
            callbacks.append(
                ("checkpoint", RoundCheckpoint(self.checkpoint_dir, state))
            )
        # After lr_schedule and keep_best, which it restores.
        callbacks += state.resume_callbacks()
        stop = StopRounds(
            self.max_time, self.n_iter_no_change, start_time, state.first_round
        )
        callbacks.append(("stop", stop))
        return callbacks

    def _query_stream(self, strategy, student, teacher, seed, budget, start, state):
        """The strategy's labelled rounds, as a replay stream of ready batches."""
        y_loc, y_scale = state.y_units
        context = QueryContext(
            teacher=teacher,
            student=student.module_,
            domain=self.domain_,
            y_loc=y_loc,
            y_scale=y_scale,
            generator=state.generator,
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
            self.n_passes_,
            state.generator,
            student.module_,
            window=window if self.replay_rounds > 1 else None,
            # The start's queries (when labelled) train the student too.
            initial=None if start.x is None else (start.x, start.y.float()),
        )
        state.stream = stream
        if state.meta is not None:
            state.meta.update(seed=seed, budget=budget)
        state.restore_rounds(stream, state.generator, self.device_)
        return stream

    def _end_fit(self, student, strategy, teacher, rounds, state):
        """Record the fitted attributes and why the fit ended; warn as needed."""
        self.student_ = student
        self.query_strategy_ = strategy
        self.history_ = student.history
        self.n_teacher_queries_ = teacher.n_queries
        callbacks = dict(student.callbacks_)
        self.stop_reason_ = _stop_reason(student.history, callbacks["stop"], rounds)
        self.n_invalid_queries_ = teacher.n_invalid
        _warn_invalid(teacher, state)
        self.holdout_r2_ = _kept_holdout_r2(
            student.history,
            callbacks["keep_best"].best_epoch_,
            callbacks["holdout_fidelity"].start_scores_,
        )
        _warn_low_fidelity(self.holdout_r2_, teacher, self.domain_)
        if self.stop_reason_ == "interrupted":
            _warn_interrupted(
                len(self.history_),
                teacher.n_queries,
                callbacks["keep_best"].best_epoch_,
                self.checkpoint_dir,
            )

    # -- prediction -------------------------------------------------------
    def predict(self, X):
        """Predict with the student, in the teacher's units.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Raw inputs, as the teacher takes them. For a teacher fitted on a
            DataFrame with text or category columns (``columns_``), a
            DataFrame with its columns (in any order): a level the teacher
            never saw counts as no level of its column, and a missing number
            as the column's typical value.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Shaped like the teacher's own predictions.
        """
        check_is_fitted(self)
        if getattr(self, "columns_", None) is not None:
            X = self.columns_.encode(X)
        else:
            X = validate_data(self, X, reset=False, dtype=np.float32)
        with _torch_threads(self._n_threads()):
            y = _forward_in_chunks(self.student_.module_, X)
        if self._teacher_output_1d:
            y = y.reshape(-1)
        return y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        return tags


# -- fit helpers that need no more than they are given ---------------------------
def _teacher_kind(teacher, estimator, columns):
    """What the "auto" student settings follow: ``(kind, degree)``.

    ``teacher`` is ``estimator`` behind its adapter; ``columns`` its
    ``columns_``. ``kind`` is "table" (a DataFrame teacher), "network",
    "polynomial" (a polynomial of ``degree`` whose monomials a student can
    take) or "piecewise" (any other: trees, boosting, neighbours, kernels).
    """
    if columns is not None:
        return "table", 1
    if teacher.differentiable or is_sklearn_network(estimator):
        return "network", 1
    degree = polynomial_degree(estimator)
    if (
        degree is not None
        and n_monomials(teacher.n_features, degree) <= _MAX_POLYNOMIAL_TERMS
    ):
        return "polynomial", degree
    return "piecewise", 1


def _resolve_learning_rate(learning_rate, batch_size, domain):
    """``learning_rate``, with "auto" resolved for the domain's varying features."""
    if learning_rate != "auto":
        return float(learning_rate)
    n_varying = int(np.sum((domain.scale > 0) & ~np.asarray(domain.ignored)))
    return (
        _BASE_LEARNING_RATE
        * math.sqrt(batch_size / _BASE_BATCH_SIZE)
        * min(1.0, math.sqrt(16 / max(n_varying, 1)))
    )


def _default_student(
    n_features,
    n_outputs,
    hidden_layer_sizes,
    activation,
    learning_rate,
    warmup,
    n_rounds,
    device,
    degree=1,
):
    """The default student: an MLPStudent stepped by fused Adam on a warm-up cosine.

    ``n_features`` is the input width, or the TableSchema of a DataFrame
    teacher (a :class:`~skdistill._columns.TableStudent` then); ``degree``
    that of the MLPStudent's input monomials.
    """
    schedule = LRScheduler(
        WarmupCosineLR,
        T_max=n_rounds,
        warmup=max(1, round(warmup * n_rounds)),
        eta_min=learning_rate / 100,
        # A new cycle on warm start, not skorch's default of going on from
        # the history's length.
        last_epoch=-1,
    )
    if isinstance(n_features, Integral):
        network = {"module": MLPStudent, "module__n_features": n_features}
        if degree > 1:
            network["module__degree"] = degree
    else:  # a TableSchema: one-hot codes in front of the MLP
        network = {
            "module": _table_student(),
            "module__n_levels": n_features.expansion().n_levels,
        }
    return StudentNet(
        **network,
        module__n_outputs=n_outputs,
        module__hidden_layer_sizes=hidden_layer_sizes,
        module__activation=activation,
        optimizer=torch.optim.Adam,
        lr=learning_rate,
        **{
            f"optimizer__{key}": value
            for key, value in fused_optimizer_kwargs(device).items()
        },
        callbacks=[("lr_schedule", schedule)],
    )


def _teacher_feature_names(teacher, names):
    """The teacher's feature names (those of fit(X), ``names``, must match), or ``names``."""
    teacher_names = getattr(teacher, "feature_names_in_", None)
    if teacher_names is None:
        return names
    teacher_names = np.asarray(teacher_names, dtype=object)
    if names is not None and not np.array_equal(names, teacher_names):
        # The teacher is queried by its own column order: a reordered X
        # would silently put each feature's domain on another feature.
        raise ValueError(
            f"The columns of X {list(names)} differ from the teacher's "
            f"feature_names_in_ {list(teacher_names)}. Pass the teacher's "
            "columns, in its order: X[teacher.feature_names_in_]."
        )
    return teacher_names


def _resolve_domain(domain, X, teacher, estimator, seed, columns=None, warn=True):
    """Explicit domain > unlabelled rows > what the teacher reveals > N(0, 1).

    ``warn``: say so when it comes to N(0, 1) for a black-box teacher.
    """
    n_features = teacher.n_features
    if columns is not None:  # a DataFrame teacher: the code space of its columns
        if domain is not None:
            raise ValueError(
                f"The teacher {teacher.name} takes a DataFrame with text or category "
                "columns, whose domain is read off the teacher and its columns "
                "(columns_); domain=... is not supported for it. Pass unlabelled "
                "rows to fit(X) to shape it instead."
            )
        coded = columns.domain()
        if X is None:
            return coded
        return InputDomain.from_data(
            X,
            random_state=seed,
            source="fit(X): unlabelled rows, as codes of the teacher's columns",
            categories=coded.categories,
        )
    if domain is not None:
        return InputDomain.from_param(domain, n_features)
    if X is not None:
        return InputDomain.from_data(X, random_state=seed)
    if not teacher.differentiable:
        inferred = infer_domain(estimator, n_features, random_state=seed)
        if inferred is not None:
            return inferred
    if warn and not teacher.differentiable:
        warnings.warn(
            f"Could not infer an input domain from the teacher {teacher.name}, so "
            "queries follow a standard normal per feature. That suits a teacher "
            "trained on standardised inputs only; for raw features, pass "
            "domain={'low': ..., 'high': ...} or unlabelled rows to fit(X).",
            UserWarning,
            stacklevel=4,  # _resolve_domain < fit < sklearn's fit wrapper < caller
        )
    return InputDomain.standard_normal(n_features)


def _label(teacher, domain, n, state, at_least, what):
    """``n`` queries of ``domain`` with the teacher's finite answers; fail fast."""
    x = domain.sample(n, state.generator, state.generator.device)
    x, y = teacher.drop_invalid(x, teacher.predict(x))
    if x.shape[0] < at_least:
        raise ValueError(
            f"The teacher {teacher.name} returned NaN or inf on "
            + (f"all {n}" if x.shape[0] == 0 else f"{n - x.shape[0]} of {n}")
            + f" queries of {what}, so nothing usable is left. "
            + teacher._domain_hint()
        )
    return x, y


def _warn_invalid(teacher, state):
    """Warn once about the queries this fit's teacher answered with NaN or inf."""
    new_invalid = teacher.n_invalid - state.n_invalid_queries
    if new_invalid > 0:
        warnings.warn(
            f"The teacher {teacher.name} returned NaN or inf on "
            f"{new_invalid} of {teacher.n_queries - state.n_teacher_queries} "
            "queries. They were dropped and training went on with the rest "
            "(n_invalid_queries_ counts them; the history's n_invalid_queries, "
            "per round). " + teacher._domain_hint(),
            InvalidTeacherOutputWarning,
            stacklevel=5,  # < _end_fit < fit < sklearn's fit wrapper < caller
        )


def _read_columns(teacher, X):
    """The TableSchema of a teacher fitted on a DataFrame with text columns, or None."""
    try:
        from ._columns import TableSchema
    except ImportError:  # no pandas, so no DataFrame teacher either
        return None
    return TableSchema.from_teacher(teacher, X if hasattr(X, "columns") else None)


def _known_codes(columns, X):
    """The code-space rows of frame ``X`` whose levels the teacher knows."""
    codes = columns.encode(X)
    codes = codes[~np.isnan(codes).any(axis=1)]
    if codes.shape[0] < 2:
        raise ValueError(
            "fit(X) needs at least 2 rows of X whose levels the teacher knows; "
            f"got {codes.shape[0]}."
        )
    return codes


def _forward_in_chunks(module, X):
    """``module`` on float32 rows ``X``, in large chunks, as float64 numpy.

    The module directly: skorch's predict fetches rows one by one through a
    DataLoader, which costs more than the network.
    """
    if not X.flags.writeable:  # e.g. pandas' read-only views: torch warns
        X = X.copy()
    module = module.eval()
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    chunks = []
    with torch.inference_mode():
        for start in range(0, X.shape[0], _PREDICT_BATCH):
            batch = torch.from_numpy(X[start : start + _PREDICT_BATCH]).to(device)
            chunks.append(module(batch).cpu().numpy())
    return np.concatenate(chunks).astype(np.float64)


def _table_student():
    from ._columns import TableStudent

    return TableStudent


def _student_units(domain, state):
    """``(x_loc, x_scale, y_loc, y_scale)`` of the student's standardisation.

    The bare module trains on standardised queries and targets (the stream
    maps each round once); ``module_`` maps raw inputs to the teacher's
    units. Inputs take the domain's location and scale, except categorical
    features (codes of a table's columns), left as they are for the
    student's one-hot encoding; a warm start keeps the input units its
    weights were fitted in. Targets take the hold-out answers'.
    """
    x_loc, x_scale = state.x_units or (domain.loc, domain.input_scale)
    x_loc, x_scale = (
        u.double().cpu().numpy().copy()
        if torch.is_tensor(u)
        else np.array(u, dtype=np.float64)
        for u in (x_loc, x_scale)
    )
    if state.x_units is None:
        for j in domain.categories:
            x_loc[j], x_scale[j] = 0.0, 1.0
    y_loc, y_scale = state.y_units
    # Where the teacher is constant beyond the domain's bounds (a tree model),
    # the student clips its inputs to them instead of extrapolating.
    x_low, x_high = domain.clip_bounds()
    return tuple(
        torch.as_tensor(u, dtype=torch.float32).reshape(-1).cpu()
        for u in (x_loc, x_scale, y_loc, y_scale, x_low, x_high)
    )


def _warn_low_fidelity(r2, teacher, domain):
    if r2 is None or r2 >= _LOW_HOLDOUT_R2:
        return
    warnings.warn(
        f"The student reproduces the teacher {teacher.name} with R² {r2:.3f} on "
        f"the synthetic hold-out queries (holdout_r2_), below {_LOW_HOLDOUT_R2}. "
        "What helps, most first: unlabelled rows, fit(X); a domain=... where the "
        "real inputs lie; a larger max_queries or hidden_layer_sizes. The figure is "
        f"measured on the query domain ({domain.source!r}), so it is optimistic "
        "where that domain is wrong.",
        LowFidelityWarning,
        stacklevel=5,  # < _end_fit < fit < sklearn's fit wrapper < caller
    )


def _fit_seed(random_state, state):
    """The fit's one seed; a resumed fit reuses its checkpoint's."""
    if state.seed is not None:
        return state.seed
    seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    if state.continued:  # a warm start: new queries, not the first fit's
        rounds_so_far = len(state.history)
        entropy = np.random.SeedSequence([seed, rounds_so_far]).generate_state(1)
        seed = int(entropy[0] % np.iinfo(np.int32).max)
    return seed


def _stop_reason(history, stop, rounds):
    """Why the fit ended; drops a round cut short (never scored, nor kept)."""
    partial_round = bool(history) and "holdout_loss" not in history[-1]
    if partial_round:
        history.pop()
    if stop.reason_ is not None:
        return stop.reason_
    if rounds.exhausted and (rounds.ran_out or not partial_round):
        return "max_queries"
    return "interrupted"


def _kept_holdout_r2(history, best_epoch, start_scores=None):
    """The hold-out R² of the round the student was restored to, or None.

    Round 0 is the student the fit started from, scored in ``start_scores``.
    """
    for row in history:
        if row["epoch"] == best_epoch and "holdout_r2" in row:
            return float(row["holdout_r2"])
    if best_epoch == 0 and start_scores is not None:
        return float(start_scores["holdout_r2"])
    return None


def _warn_interrupted(n_rounds, n_queries, best, checkpoint_dir):
    resume = (
        f", or with checkpoint_dir={checkpoint_dir!r} (and "
        "warm_start=False) to resume from the last saved round"
        if checkpoint_dir is not None
        else ""
    )
    warnings.warn(
        f"fit was interrupted (KeyboardInterrupt) after {n_rounds} "
        f"complete rounds and {n_queries} teacher queries. The "
        f"student is the best round so far (round {best}; round 0 means "
        "none was complete) and predicts as usual. Fit again with "
        f"warm_start=True to continue from it{resume}.",
        FitInterruptedWarning,
        stacklevel=5,
    )


def _check_fitted_distiller(obj, caller, accepted="a fitted DataFreeDistillRegressor"):
    """Raise unless ``obj`` is a fitted distiller (for the package's functions)."""
    if not isinstance(obj, DataFreeDistillRegressor):
        raise TypeError(f"{caller} needs {accepted}; got {type(obj).__name__}.")
    check_is_fitted(obj)
