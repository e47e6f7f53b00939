"""Query strategies: where to ask the teacher next.

Every strategy is a small parameter object (a scikit-learn ``BaseEstimator``,
so it clones, prints and grid-searches like one) with one job:
``generate(n, context)`` returns ``n`` queries inside the input domain.
Strategies that learn from the answers also implement ``observe``.
"""

import math
import warnings
from contextlib import nullcontext
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from scipy.stats import qmc
from sklearn.base import BaseEstimator, clone
from sklearn.utils._param_validation import Interval, StrOptions
from torch import nn

__all__ = [
    "QueryContext",
    "QueryStrategy",
    "GaussianQueries",
    "UniformQueries",
    "LatinHypercubeQueries",
    "GeneratorQueries",
    "BoundedGapQueries",
    "resolve_strategy",
]


@dataclass
class QueryContext:
    """What a strategy may look at while it makes queries.

    Attributes
    ----------
    teacher : adapter
        ``teacher.predict(x)`` labels queries (and counts them); white-box
        teachers (``teacher.differentiable``) are also callable with autograd.
    student : torch.nn.Module
        The current student, mapping raw inputs to the teacher's units.
    domain : InputDomain
        Where queries must lie.
    y_loc, y_scale : torch.Tensor of shape (1, n_outputs)
        The teacher's output location and scale, to measure gaps in
        standardised units.
    generator : torch.Generator
        The only source of randomness for torch sampling.
    rng : numpy.random.Generator
        The only source of randomness for numpy sampling.
    device : torch.device
        Where queries are made.
    progress : float
        Fraction of the query budget spent, in [0, 1]; set every round.
    """

    teacher: object
    student: nn.Module
    domain: object
    y_loc: torch.Tensor
    y_scale: torch.Tensor
    generator: torch.Generator
    rng: np.random.Generator
    device: torch.device
    progress: float = 0.0

    def gap(self, teacher_y, x):
        """Return the per-query squared teacher-student gap (standardised units)."""
        return (((teacher_y - self.student(x)) / self.y_scale) ** 2).sum(dim=1)


class QueryStrategy(BaseEstimator):
    """Base class: subclasses implement :meth:`generate`.

    Subclasses declare their parameters' valid values in
    ``_parameter_constraints`` (scikit-learn's ``Interval``, ``StrOptions``),
    checked by :func:`resolve_strategy` when ``fit`` starts.
    """

    _parameter_constraints: dict = {}
    requires_gradients = False

    def start(self, context):
        """Reset any state at the start of a fit. Called once before the first round."""

    def generate(self, n, context):
        """Return ``n`` queries, a float32 tensor of shape (n, n_features).

        A strategy that had to label its queries itself (to decide where to
        go next) returns ``(queries, labels)`` instead, so nothing is asked
        twice.
        """
        raise NotImplementedError

    def observe(self, x, y, context):
        """Receive the teacher's labels ``y`` for the queries ``x`` of a round."""


def _base_unit(n, context, scale_mixture, scale_range, rescale):
    """Draw unit-space base queries, a fraction of them rescaled at random.

    A domain known only by its mean and scale (N(0, 1) in unit space) says
    nothing about the shape of the real distribution. Standardised tabular
    features are rarely Gaussian: heavy-tailed ones concentrate most rows
    well inside one standard deviation and put a few far outside it, while
    bounded ones never leave a box. Rescaling a fraction ``scale_mixture`` of
    the draws by a log-uniform factor from ``scale_range`` (a scale mixture of
    normals) puts queries in the tight core, the bulk and the tails alike.
    With ``rescale="feature"`` each feature value of each query is a draw of
    its own, so a query has a few features far out and the rest near the
    core, as a real row with an outlier has; with ``"row"`` one factor
    rescales a whole query. Only for normal domains: boxes and empirical
    domains have their own extent. Features the student averages over
    (``domain.averaged``) are never rescaled: the average is over the base
    distribution.
    """
    domain = context.domain
    z = domain.sample_unit(n, context.generator, context.device)
    if scale_mixture > 0 and n > 0 and domain.distribution == "normal":
        shape = z.shape if rescale == "feature" else (n, 1)
        log_factor = _log_factors(
            shape, scale_mixture, scale_range, context.generator, context.device
        )
        averaged = domain.averaged
        if averaged.any():
            log_factor = log_factor.expand(z.shape).masked_fill(
                torch.as_tensor(averaged, device=z.device), 0.0
            )
        z = z * log_factor.exp_()
    return domain.clip_unit(z)


def _log_factors(shape, p, scale_range, generator, device):
    """Log-factors of a scale mixture: 0 with probability ``1 - p``, else log-uniform.

    One uniform draw ``u`` per factor decides both whether it rescales and by
    how much: ``u`` in a band of width ``1 - p`` gives 0 (kept as it is), and
    the rest of [0, 1), of width ``p``, maps linearly onto ``[log low, log
    high)``. Where that range holds 0 (``low <= 1 <= high``, the default), the
    band sits where the ramp crosses 0, so a clamp does the selection, with no
    mask: a third to a half of the cost of drawing the choice and the factor
    apart, which was most of a round's base queries at hundreds of features
    (the changelog has the figures).
    """
    low, high = math.log(scale_range[0]), math.log(scale_range[1])
    u = torch.rand(shape, generator=generator, device=device)
    if high == low:
        return torch.where(u < p, low, 0.0)
    slope = (high - low) / p
    if low <= 0 <= high:
        # w < 0 maps onto [low, 0), w in [0, 1 - p] is the kept band (exactly
        # 0), and w > 1 - p maps onto (0, high).
        w = u.sub_(-low / slope)
        return w.sub_(torch.clamp(w, 0.0, 1.0 - p)).mul_(slope)
    return torch.where(u < p, u * slope + low, 0.0)


def _check_scale_range(scale_range):
    try:
        low, high = (float(v) for v in scale_range)
    except (TypeError, ValueError):
        low = high = math.nan
    if not 0 < low <= high < math.inf:
        raise ValueError(
            "The 'scale_range' parameter of BoundedGapQueries must be two floats "
            f"(low, high) with 0 < low <= high; got {scale_range!r}."
        )
    return low, high


def _answered(t, s):
    """The teacher's answers ``t``, NaN or inf replaced by the student's ``s``.

    A query the teacher cannot answer has no gap to climb: the replacement
    makes its gap and slope zero, where NaN or inf would spread through the
    gradients to every parameter they reach.
    """
    return torch.where(torch.isfinite(t), t, s.detach())


def _alpha_at(alpha, progress):
    """Fraction of optimised (vs base-distribution) queries at this point of the fit."""
    if alpha == "linear":
        return 1.0 - progress
    return float(alpha)


def _native_bfloat16(device):
    """Whether ``device`` multiplies bfloat16 matrices natively (faster than float32).

    True on a CPU with AVX512-BF16 or AMX instructions, where oneDNN runs
    bfloat16 products at several times the float32 rate. False elsewhere,
    CUDA included: there the ascent's small products are not bound by
    arithmetic, and no measurement backs a change.
    """
    if torch.device(device).type != "cpu":
        return False
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


_ALPHA = [StrOptions({"linear"}), Interval(Real, 0, 1, closed="both")]
_NON_NEGATIVE = [Interval(Real, 0, None, closed="left")]
_POSITIVE = [Interval(Real, 0, None, closed="neither")]
_AT_LEAST_ONE = [Interval(Integral, 1, None, closed="left")]


def _validate_alpha(alpha):
    if alpha == "linear":
        return
    if isinstance(alpha, Real) and not isinstance(alpha, bool) and 0 <= alpha <= 1:
        return
    raise ValueError(f"alpha must be 'linear' or a float in [0, 1]; got {alpha!r}.")


class GaussianQueries(QueryStrategy):
    """Queries from the domain's base distribution (N(0, I) in the paper).

    The baseline of Zhou & Chiam (2023): no teacher feedback at all.
    """

    def generate(self, n, context):
        return context.domain.sample(n, context.generator, context.device)


class UniformQueries(QueryStrategy):
    """Queries uniform in the domain's box.

    Parameters
    ----------
    width : float, default=3.0
        For unbounded features, the box is ``loc ± width * scale``.
    """

    _parameter_constraints = {"width": _POSITIVE}

    def __init__(self, width=3.0):
        self.width = width

    def generate(self, n, context):
        low, high = (
            torch.as_tensor(b, dtype=torch.float32, device=context.device)
            for b in context.domain.box(self.width)
        )
        u = torch.rand(
            (n, context.domain.n_features),
            generator=context.generator,
            device=context.device,
        )
        # Integer and categorical features stay integer and categorical.
        return context.domain.snap(context.domain.clip(low + (high - low) * u))


class LatinHypercubeQueries(QueryStrategy):
    """Latin hypercube samples of the domain's base distribution.

    Stratified in every feature (``scipy.stats.qmc.LatinHypercube``), then
    mapped through the base distribution's inverse CDF, so the queries follow
    the same distribution as ``"gaussian"`` with less clumping.
    """

    def generate(self, n, context):
        sampler = qmc.LatinHypercube(d=context.domain.n_features, rng=context.rng)
        z = context.domain.ppf(sampler.random(n))
        z = torch.as_tensor(z, dtype=torch.float32, device=context.device)
        return context.domain.to_input(z)


class BoundedGapQueries(QueryStrategy):
    """Queries with a large but bounded teacher-student gap (Zhou & Chiam, 2023).

    A fraction ``alpha`` of each round's queries start from the domain's base
    distribution and take ``n_steps`` RMSprop steps (learning rate
    ``step_size``, weight decay ``beta`` on the unit-space query) on

    ``mean(-(T(x) - S(x))**2 + gamma * S(x)**2)``,

    and stay inside the domain; the rest are plain base-distribution queries.
    The gap is kept bounded by the few steps, the ``beta`` and ``gamma``
    penalties and the domain's bounds.

    A black-box teacher (any scikit-learn model) has no input gradients.
    Then, with ``black_box="zeroth_order"`` (the default), each optimised
    query climbs the gap ``n_steps`` times along a random direction: it asks
    the teacher at ``z ± mutation_scale * u`` and moves to the probe with the
    larger gap. With ``black_box="evolve"``, the optimised fraction is
    *evolved* instead: the queries of earlier rounds with the largest gap to
    the current student (the student is cheap to evaluate; the teacher's
    answers are already known) are perturbed by ``mutation_scale`` unit-space
    standard deviations. Either way every teacher query is also a training
    query.

    Parameters
    ----------
    n_steps : int, default=2
        Gradient steps per optimised query (white-box teachers).
    step_size : float or "auto", default="auto"
        RMSprop learning rate of those steps (unit space). RMSprop's first
        step moves each coordinate by about ``10 * step_size``. "auto" is the
        paper's 0.1 for normal and uniform domains, and 0.01 for empirical
        domains, whose queries must stay near the rows they start from.

        .. versionchanged:: 0.1
           0.01 for empirical domains instead of ``0.1 * jitter``.
    beta : float, default=1e-5
        Weight decay on the unit-space query (the paper's ``beta * ||x||^2``).
    gamma : float, default=1e-5
        Weight of the student-output penalty ``gamma * S(x)**2``.
    alpha : "linear" or float in [0, 1], default=0.25
        Fraction of optimised queries: constant, or falling from 1 to 0 over
        the budget ("linear", the paper's schedule, which asks for more
        gradient steps).
    scale_mixture : float in [0, 1], default=0.5
        Fraction of base-distribution draws rescaled by a factor drawn
        log-uniformly from ``scale_range`` (a scale mixture of normals); 0
        gives the paper's plain N(0, 1) queries. Real standardised features
        are rarely Gaussian (heavy tails with a tight core, or bounded
        boxes), and a scale mixture covers both. Only for normal domains:
        uniform boxes and empirical domains have their own extent.
    scale_range : tuple of two floats (low, high), default=(0.25, 4.0)
        Range of the log-uniform rescaling factor, ``0 < low <= high``.
    rescale : {"feature", "row"}, default="feature"
        What one draw of the mixture is. ``"feature"``: each feature value of
        each query, with a factor of its own, so that a query has a few
        features far out and the rest near the core, as a real row with an
        outlier does. ``"row"`` (the earlier default): a whole query, all its
        features rescaled by one factor.
    ascent_precision : {"auto", "float32", "bfloat16"}, default="auto"
        Precision of the ascent's forward and backward passes through the
        teacher and the student (white-box teachers; ``torch.autocast``).
        Only the direction of each step is computed in it: the queries, the
        teacher's labels and the student's training stay float32. "auto" is
        bfloat16 on a CPU that multiplies in it natively (AVX512-BF16 or
        AMX), where it is faster and the students as faithful, and float32 on
        any other device. A teacher that fails under autocast falls back to
        float32 with a warning ("auto" only; an explicit "bfloat16" raises).
    black_box : {"zeroth_order", "evolve"}, default="zeroth_order"
        How the optimised fraction is made for a teacher without gradients.
    mutation_scale : float, default=0.5
        Black-box only: standard deviation of the perturbation, or the probe
        distance of zeroth-order steps (unit space).
    elite_fraction : float, default=0.25
        Black-box only: fraction of the archive, by gap, that parents come from.
    archive_size : int, default=20000
        Black-box only: how many recent labelled queries are kept as parents.

    References
    ----------
    .. [1] T. Zhou and K.-H. Chiam, "Synthetic data generation method for
       data-free knowledge distillation in regression neural networks",
       arXiv:2301.04338, 2023.
    """

    _parameter_constraints = {
        "n_steps": _AT_LEAST_ONE,
        "step_size": [StrOptions({"auto"}), *_POSITIVE],
        "beta": _NON_NEGATIVE,
        "gamma": _NON_NEGATIVE,
        "alpha": _ALPHA,
        "scale_mixture": [Interval(Real, 0, 1, closed="both")],
        "scale_range": [tuple, list],
        "rescale": [StrOptions({"feature", "row"})],
        "ascent_precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "black_box": [StrOptions({"zeroth_order", "evolve"})],
        "mutation_scale": _POSITIVE,
        "elite_fraction": [Interval(Real, 0, 1, closed="right")],
        "archive_size": _AT_LEAST_ONE,
    }

    def __init__(
        self,
        n_steps=2,
        step_size="auto",
        beta=1e-5,
        gamma=1e-5,
        alpha=0.25,
        scale_mixture=0.5,
        scale_range=(0.25, 4.0),
        rescale="feature",
        ascent_precision="auto",
        black_box="zeroth_order",
        mutation_scale=0.5,
        elite_fraction=0.25,
        archive_size=20000,
    ):
        self.n_steps = n_steps
        self.step_size = step_size
        self.beta = beta
        self.gamma = gamma
        self.alpha = alpha
        self.scale_mixture = scale_mixture
        self.scale_range = scale_range
        self.rescale = rescale
        self.ascent_precision = ascent_precision
        self.black_box = black_box
        self.mutation_scale = mutation_scale
        self.elite_fraction = elite_fraction
        self.archive_size = archive_size

    def start(self, context):
        _validate_alpha(self.alpha)
        if self.black_box not in ("evolve", "zeroth_order"):
            raise ValueError(
                f"black_box must be 'evolve' or 'zeroth_order'; got {self.black_box!r}."
            )
        if self.rescale not in ("feature", "row"):
            raise ValueError(
                f"rescale must be 'feature' or 'row'; got {self.rescale!r}."
            )
        _check_scale_range(self.scale_range)
        if self.ascent_precision not in ("auto", "float32", "bfloat16"):
            raise ValueError(
                "ascent_precision must be 'auto', 'float32' or 'bfloat16'; got "
                f"{self.ascent_precision!r}."
            )
        self.ascent_precision_ = (
            ("bfloat16" if _native_bfloat16(context.device) else "float32")
            if self.ascent_precision == "auto"
            else self.ascent_precision
        )
        self.archive_z_ = None
        self.archive_y_ = None

    def generate(self, n, context):
        domain = context.domain
        n_opt = int(round(_alpha_at(self.alpha, context.progress) * n))
        z_base = self._base(n - n_opt, context)
        if n_opt == 0:
            return domain.to_input(z_base)
        if context.teacher.differentiable:
            z_opt = self._ascend(n_opt, context)
        elif self.black_box == "zeroth_order":
            return self._climb(n_opt, z_base, context)
        else:
            z_opt = self._evolve(n_opt, context)
        return domain.to_input(torch.cat([z_opt, z_base]))

    def _base(self, n, context):
        return _base_unit(
            n, context, self.scale_mixture, self.scale_range, self.rescale
        )

    def _ascend(self, n, context):
        z = self._base(n, context)
        if self.ascent_precision_ == "bfloat16":
            try:
                return self._ascend_from(z, context, torch.bfloat16)
            except RuntimeError as exc:
                if self.ascent_precision != "auto":
                    raise
                warnings.warn(
                    f"The gap ascent in bfloat16 failed on the teacher "
                    f"{context.teacher.name} ({type(exc).__name__}: {exc}); it "
                    "continues in float32. Set "
                    "BoundedGapQueries(ascent_precision='float32') to skip the "
                    "attempt.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self.ascent_precision_ = "float32"
        return self._ascend_from(z, context, None)

    def _ascend_from(self, z, context, dtype):
        """``n_steps`` RMSprop steps up the gap from the unit-space queries ``z``.

        With a ``dtype``, the passes through the teacher and the student run
        under ``torch.autocast`` in it; ``z`` and its steps stay float32.
        """
        domain = context.domain
        z = z.clone().requires_grad_(True)
        step_size = self.step_size
        if step_size == "auto":
            step_size = 0.01 if domain.distribution == "empirical" else 0.1
        optimizer = torch.optim.RMSprop([z], lr=step_size, weight_decay=self.beta)
        precision = (
            nullcontext()
            if dtype is None
            else torch.autocast(context.device.type, dtype=dtype)
        )
        for _ in range(self.n_steps):
            x = domain.to_input(z)
            with precision:
                s = context.student(x).float()
                t = _answered(context.teacher(x), s)  # float32 from the adapter
            gap = (((t - s) / context.y_scale) ** 2).sum(dim=1)
            size = (((s - context.y_loc) / context.y_scale) ** 2).sum(dim=1)
            loss = (-gap + self.gamma * size).mean()
            (z.grad,) = torch.autograd.grad(loss, z)
            before = z.detach().clone()
            optimizer.step()
            with torch.no_grad():
                # A step made non-finite by the teacher's slope (a square
                # root at a negative input) is undone, query by query.
                z.copy_(domain.clip_unit(torch.where(torch.isfinite(z), z, before)))
        return z.detach()

    def _evolve(self, n, context):
        if self.archive_z_ is None:
            return self._base(n, context)
        domain = context.domain
        with torch.no_grad():
            gap = context.gap(self.archive_y_, domain.to_input(self.archive_z_))
        n_elite = max(1, int(self.elite_fraction * gap.shape[0]))
        elite = torch.topk(gap, n_elite).indices
        pick = torch.randint(
            n_elite, (n,), generator=context.generator, device=context.device
        )
        parents = self.archive_z_[elite[pick]]
        noise = torch.randn(
            parents.shape, generator=context.generator, device=context.device
        )
        return domain.clip_unit(parents + self.mutation_scale * noise)

    def _climb(self, n, z_base, context):
        """Zeroth-order ascent; returns the labelled probes and base queries."""
        domain, teacher = context.domain, context.teacher
        n_seeds = n // (2 * self.n_steps)
        z = self._base(n_seeds, context)
        xs, ys = [], []
        # Fewer than 2 * n_steps queries (a budget's last few): no climb.
        # The probes stay put along averaged features, which must follow the
        # base distribution.
        steered = torch.as_tensor(~domain.averaged, device=context.device)
        for _ in range(self.n_steps if n_seeds else 0):
            u = torch.randn(z.shape, generator=context.generator, device=context.device)
            u = u * steered
            probes = domain.clip_unit(
                torch.cat([z + self.mutation_scale * u, z - self.mutation_scale * u])
            )
            x = domain.to_input(probes)
            y = teacher.predict(x)
            xs.append(x)
            ys.append(y)
            with torch.no_grad():
                gap = context.gap(y, x)
            plus_wins = (gap[:n_seeds] >= gap[n_seeds:]).unsqueeze(1)
            z = torch.where(plus_wins, probes[:n_seeds], probes[n_seeds:])
        rest = torch.cat([self._base(n - 2 * self.n_steps * n_seeds, context), z_base])
        if rest.shape[0]:
            xs.append(domain.to_input(rest))
            ys.append(teacher.predict(xs[-1]))
        return torch.cat(xs), torch.cat(ys)

    def observe(self, x, y, context):
        if context.teacher.differentiable or self.black_box != "evolve":
            return
        z = context.domain.to_unit(x)
        if self.archive_z_ is not None:
            z = torch.cat([self.archive_z_, z])
            y = torch.cat([self.archive_y_, y])
        self.archive_z_ = z[-self.archive_size :]
        self.archive_y_ = y[-self.archive_size :]


class GeneratorQueries(QueryStrategy):
    """Queries from a generator network trained to maximise the gap (Kang & Kang, 2021).

    A generator ``noise -> hidden (tanh) -> n_features`` is trained
    adversarially, ``n_steps`` RMSprop steps per round, on
    ``mean(-(T(G(e)) - S(G(e)))**2 + beta * ||G(e)||**2 + gamma * S(G(e))**2)``.
    It needs teacher gradients: use a torch or skorch teacher.

    Parameters
    ----------
    noise_dim : int, default=50
        Width of the generator's input noise.
    hidden_size : int, default=500
        Width of its hidden layer.
    learning_rate : float, default=1e-3
        RMSprop learning rate of the generator.
    n_steps : int, default=1
        Generator steps per round.
    batch_size : int, default=256
        Noise samples per generator step.
    beta, gamma : float, default=1e-5
        Penalties on the query norm and the student's output.
    alpha : "linear" or float in [0, 1], default=1.0
        Fraction of generated (vs base-distribution) queries; 1.0 as in Kang &
        Kang.

    References
    ----------
    .. [1] Y. Kang and S. Kang, "Data-free knowledge distillation in neural
       networks for regression", Expert Systems with Applications 175:114813,
       2021.
    """

    requires_gradients = True
    _parameter_constraints = {
        "noise_dim": _AT_LEAST_ONE,
        "hidden_size": _AT_LEAST_ONE,
        "learning_rate": _POSITIVE,
        "n_steps": [Interval(Integral, 0, None, closed="left")],
        "batch_size": _AT_LEAST_ONE,
        "beta": _NON_NEGATIVE,
        "gamma": _NON_NEGATIVE,
        "alpha": _ALPHA,
    }

    def __init__(
        self,
        noise_dim=50,
        hidden_size=500,
        learning_rate=1e-3,
        n_steps=1,
        batch_size=256,
        beta=1e-5,
        gamma=1e-5,
        alpha=1.0,
    ):
        self.noise_dim = noise_dim
        self.hidden_size = hidden_size
        self.learning_rate = learning_rate
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.beta = beta
        self.gamma = gamma
        self.alpha = alpha

    def start(self, context):
        _validate_alpha(self.alpha)
        if not context.teacher.differentiable:
            raise ValueError(
                "query_strategy='generator' needs teacher gradients, but the teacher "
                f"{context.teacher.name} is a black box. Use a torch or skorch "
                "teacher, or query_strategy='bounded_gap', which works without them."
            )
        d = context.domain.n_features
        self.generator_ = nn.Sequential(
            nn.Linear(self.noise_dim, self.hidden_size),
            nn.Tanh(),
            nn.Linear(self.hidden_size, d),
        ).to(context.device)
        self.optimizer_ = torch.optim.RMSprop(
            self.generator_.parameters(), lr=self.learning_rate
        )

    def _noise(self, n, context):
        return torch.randn(
            (n, self.noise_dim), generator=context.generator, device=context.device
        )

    def generate(self, n, context):
        domain = context.domain
        for _ in range(self.n_steps):
            z = self.generator_(self._noise(self.batch_size, context))
            x = domain.to_input(z)
            s = context.student(x)
            t = _answered(context.teacher(x), s)
            gap = (((t - s) / context.y_scale) ** 2).sum(dim=1)
            size = (((s - context.y_loc) / context.y_scale) ** 2).sum(dim=1)
            loss = (-gap + self.beta * (z**2).sum(dim=1) + self.gamma * size).mean()
            grads = torch.autograd.grad(loss, list(self.generator_.parameters()))
            if not all(bool(torch.isfinite(g).all()) for g in grads):
                continue  # a non-finite slope would ruin the generator for good
            for p, g in zip(self.generator_.parameters(), grads):
                p.grad = g
            self.optimizer_.step()
        n_gen = int(round(_alpha_at(self.alpha, context.progress) * n))
        with torch.no_grad():
            z = torch.cat(
                [
                    self.generator_(self._noise(n_gen, context)),
                    domain.sample_unit(n - n_gen, context.generator, context.device),
                ]
            )
        return domain.to_input(z)


_STRATEGIES = {
    "gaussian": GaussianQueries,
    "uniform": UniformQueries,
    "lhs": LatinHypercubeQueries,
    "generator": GeneratorQueries,
    "bounded_gap": BoundedGapQueries,
}


def resolve_strategy(query_strategy):
    """Return a fresh, validated strategy object for a name or a (cloned) instance.

    The strategy's own parameters are checked against its
    ``_parameter_constraints``, so an error names the parameter, the strategy
    and the accepted values before the teacher is asked anything.
    """
    if isinstance(query_strategy, QueryStrategy):
        strategy = clone(query_strategy)
        strategy._validate_params()
        return strategy
    if isinstance(query_strategy, str) and query_strategy in _STRATEGIES:
        return _STRATEGIES[query_strategy]()
    raise ValueError(
        f"query_strategy must be one of {sorted(_STRATEGIES)} or a QueryStrategy "
        f"instance; got {query_strategy!r}."
    )
