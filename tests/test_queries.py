import math
import warnings

import numpy as np
import pytest
import torch
from conftest import make_context, make_mlp
from scipy import stats
from sklearn.base import clone
from torch import nn

from skdistill import (
    BoundedGapQueries,
    GaussianQueries,
    GeneratorQueries,
    InputDomain,
    LatinHypercubeQueries,
    UniformQueries,
    _queries,
)
from skdistill._queries import _log_factors, resolve_strategy

STRATEGIES = [
    GaussianQueries(),
    UniformQueries(),
    LatinHypercubeQueries(),
    GeneratorQueries(hidden_size=32),
    BoundedGapQueries(),
]
DOMAINS = [
    InputDomain.standard_normal(4),
    InputDomain.from_bounds([0, 0, -1, 10], [1, 2, 1, 20]),
    InputDomain.from_mean_scale([0, 1, 2, 3], [1, 1, 2, 2], low=[-1] * 4, high=[3] * 4),
]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=lambda s: type(s).__name__)
@pytest.mark.parametrize("domain", DOMAINS, ids=["normal", "box", "clipped"])
def test_queries_are_finite_float32_in_the_domain(strategy, domain):
    strategy = clone(strategy)
    ctx = make_context(domain)
    strategy.start(ctx)
    for progress in (0.0, 0.5, 1.0):
        ctx.progress = progress
        x = strategy.generate(300, ctx)
        assert x.shape == (300, 4) and x.dtype == torch.float32
        assert torch.isfinite(x).all()
        assert domain.contains(x)


def test_latin_hypercube_is_stratified_in_every_feature():
    domain = InputDomain.from_bounds([0, 0, 0], [1, 1, 1])
    ctx = make_context(domain)
    x = LatinHypercubeQueries().generate(50, ctx).numpy()
    for j in range(3):
        strata = np.floor(x[:, j] * 50).astype(int)
        assert sorted(strata) == list(range(50))


def test_bounded_gap_queries_have_a_larger_gap_than_base_queries():
    domain = InputDomain.standard_normal(6)
    ctx = make_context(domain, teacher=make_mlp(6, seed=1), student=make_mlp(6, seed=2))
    teacher = ctx.teacher

    def mean_gap(x):
        with torch.no_grad():
            return float(ctx.gap(teacher.predict(x), x).mean())

    strategy = BoundedGapQueries(alpha=1.0, scale_mixture=0.0)
    strategy.start(ctx)
    optimised = strategy.generate(2000, ctx)
    plain = GaussianQueries().generate(2000, ctx)
    assert mean_gap(optimised) > 1.5 * mean_gap(plain)


def test_bounded_gap_alpha_schedule_mixes_base_queries():
    domain = InputDomain.standard_normal(3)
    ctx = make_context(domain)
    strategy = BoundedGapQueries(alpha=0.0, scale_mixture=0.0)
    strategy.start(ctx)
    x = strategy.generate(4000, ctx).numpy()
    # alpha=0: plain N(0, 1) queries, no optimisation steps.
    np.testing.assert_allclose(x.std(0), 1, atol=0.05)


@pytest.mark.parametrize("rescale", ["feature", "row"])
def test_scale_mixture_rescales_each_feature_or_whole_rows(rescale):
    domain = InputDomain.standard_normal(4)
    ctx = make_context(domain)
    strategy = BoundedGapQueries(alpha=0.0, scale_mixture=1.0, rescale=rescale)
    strategy.start(ctx)
    z = strategy.generate(20000, ctx).numpy()
    # Every draw is rescaled by a log-uniform factor s in (0.25, 4): the
    # features' variance is E[s**2] = (16 - 1/16) / (2 log 16), not N(0, 1)'s.
    assert float(z.var()) == pytest.approx((16 - 1 / 16) / (2 * np.log(16)), rel=0.1)
    # One factor per row ties the sizes of a row's features together; a factor
    # per feature leaves them independent, so a query may have one far-out
    # feature among ordinary ones.
    log_size = np.log(np.abs(z) + 1e-12)
    corr = np.corrcoef(log_size[:, 0], log_size[:, 1])[0, 1]
    if rescale == "row":
        assert corr > 0.3
    else:
        assert abs(corr) < 0.05
        # Queries with a far-out feature mostly have just the one.
        far = np.abs(z) > 4
        assert (far.sum(axis=1) == 1).sum() > 0.6 * far.any(axis=1).sum()


@pytest.mark.parametrize(
    "p, scale_range",
    [(0.5, (0.25, 4.0)), (0.3, (0.5, 8.0)), (1.0, (0.25, 4.0)), (0.5, (2.0, 8.0))],
)
def test_scale_mixture_factors_are_kept_or_log_uniform(p, scale_range):
    # One uniform draw per factor: a fraction 1 - p exactly 1 (log 0), the
    # rest log-uniform over the whole range, whether or not it holds 1.
    gen = torch.Generator().manual_seed(0)
    log_f = _log_factors((200_000,), p, scale_range, gen, "cpu").numpy()
    low, high = np.log(scale_range)
    kept = log_f == 0
    assert kept.mean() == pytest.approx(1 - p, abs=0.005)
    rescaled = log_f[~kept]
    assert rescaled.min() >= low - 1e-6 and rescaled.max() < high + 1e-6
    uniform = stats.uniform(loc=low, scale=high - low)
    assert stats.kstest(rescaled, uniform.cdf).pvalue > 1e-3


def test_scale_mixture_of_one_value_and_none():
    gen = torch.Generator().manual_seed(0)
    log_f = _log_factors((10_000,), 0.5, (2.0, 2.0), gen, "cpu").numpy()
    assert set(np.unique(log_f)) == {0.0, np.float32(math.log(2.0))}
    assert not _log_factors((100,), 0.5, (1.0, 1.0), gen, "cpu").any()


def test_rescale_must_be_feature_or_row():
    ctx = make_context(InputDomain.standard_normal(4))
    with pytest.raises(ValueError, match="rescale must be"):
        BoundedGapQueries(rescale="column").start(ctx)


def test_black_box_bounded_gap_evolves_high_gap_queries(forest):
    domain = InputDomain.from_bounds(np.zeros(10), np.ones(10))
    student = nn.Sequential(nn.Linear(10, 1))
    ctx = make_context(domain, teacher=forest, student=student)
    strategy = BoundedGapQueries(alpha=1.0, black_box="evolve")
    strategy.start(ctx)
    x0 = strategy.generate(2000, ctx)
    y0 = ctx.teacher.predict(x0)
    strategy.observe(x0, y0, ctx)
    x1 = strategy.generate(2000, ctx)
    with torch.no_grad():
        gap0 = ctx.gap(y0, x0).mean()
        gap1 = ctx.gap(ctx.teacher.predict(x1), x1).mean()
    assert gap1 > 1.2 * gap0
    assert domain.contains(x1)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, "cosine", None])
def test_bad_alpha_is_rejected(alpha):
    ctx = make_context(InputDomain.standard_normal(4))
    with pytest.raises(ValueError, match="alpha"):
        BoundedGapQueries(alpha=alpha).start(ctx)


def test_strategies_resolve_by_name_and_instances_are_cloned():
    assert isinstance(resolve_strategy("lhs"), LatinHypercubeQueries)
    mine = BoundedGapQueries(n_steps=5)
    resolved = resolve_strategy(mine)
    assert resolved is not mine and resolved.n_steps == 5
    with pytest.raises(ValueError, match="query_strategy must be one of"):
        resolve_strategy("adversarial")


def test_black_box_zeroth_order_labels_its_own_probes_once(forest):
    domain = InputDomain.from_bounds(np.zeros(10), np.ones(10))
    ctx = make_context(domain, teacher=forest, student=nn.Sequential(nn.Linear(10, 1)))
    strategy = BoundedGapQueries(alpha=1.0, black_box="zeroth_order", n_steps=2)
    strategy.start(ctx)
    x, y = strategy.generate(1000, ctx)
    assert x.shape == (1000, 10) and y.shape == (1000, 1)
    assert ctx.teacher.n_queries == 1000  # every query labelled exactly once
    assert domain.contains(x)
    torch.testing.assert_close(y, ctx.teacher.predict(x))
    with torch.no_grad():
        first = ctx.gap(y[:500], x[:500]).mean()  # probes of the first step
        climbed = ctx.gap(y[500:], x[500:]).mean()  # probes of the second step
    assert climbed > first


def test_unknown_black_box_option_is_rejected():
    ctx = make_context(InputDomain.standard_normal(4))
    with pytest.raises(ValueError, match="black_box must be"):
        BoundedGapQueries(black_box="magic").start(ctx)


def _ascent_context(n_features=6, teacher=None):
    domain = InputDomain.standard_normal(n_features)
    teacher = teacher if teacher is not None else make_mlp(n_features, seed=1)
    return make_context(domain, teacher=teacher, student=make_mlp(n_features, seed=2))


def test_ascent_precision_auto_follows_the_device(monkeypatch):
    ctx = _ascent_context()
    for native, expected in ((True, "bfloat16"), (False, "float32")):
        monkeypatch.setattr(_queries, "_native_bfloat16", lambda device, n=native: n)
        strategy = BoundedGapQueries()
        strategy.start(ctx)
        assert strategy.ascent_precision_ == expected
    strategy = BoundedGapQueries(ascent_precision="float32")
    monkeypatch.setattr(_queries, "_native_bfloat16", lambda device: True)
    strategy.start(ctx)
    assert strategy.ascent_precision_ == "float32"


def test_bfloat16_ascent_climbs_the_gap_as_float32_does():
    # The steps' direction comes from bfloat16 passes; the queries stay
    # float32 and climb the same gap, to nearly the same places.
    ctx = _ascent_context()
    z0 = torch.randn(2000, 6, generator=torch.Generator().manual_seed(3))
    strategy = BoundedGapQueries(alpha=1.0, scale_mixture=0.0)
    strategy.start(ctx)
    z32 = strategy._ascend_from(z0, ctx, None)
    z16 = strategy._ascend_from(z0, ctx, torch.bfloat16)
    assert z16.dtype == torch.float32

    def mean_gap(z):
        x = ctx.domain.to_input(z)
        with torch.no_grad():
            return float(ctx.gap(ctx.teacher.predict(x), x).mean())

    assert mean_gap(z16) > 1.5 * mean_gap(z0)
    assert mean_gap(z16) == pytest.approx(mean_gap(z32), rel=0.05)
    cosine = torch.nn.functional.cosine_similarity(z16 - z0, z32 - z0)
    assert float(cosine.median()) > 0.95


class _Float32Only(nn.Module):
    """A teacher whose forward refuses reduced precision (a custom kernel, say)."""

    def __init__(self, n_features):
        super().__init__()
        self.net = make_mlp(n_features, seed=1)

    def forward(self, x):
        h = self.net[0](x)
        if h.dtype != torch.float32:
            raise RuntimeError("this kernel takes float32 only")
        return self.net[2](self.net[1](h))


def test_auto_ascent_falls_back_to_float32_with_a_warning(monkeypatch):
    monkeypatch.setattr(_queries, "_native_bfloat16", lambda device: True)
    ctx = _ascent_context(teacher=_Float32Only(6))
    strategy = BoundedGapQueries(alpha=1.0)
    strategy.start(ctx)
    with pytest.warns(RuntimeWarning, match="continues in float32"):
        x = strategy.generate(500, ctx)
    assert strategy.ascent_precision_ == "float32"
    assert x.shape == (500, 6) and ctx.domain.contains(x)
    # Once fallen back, no further attempts and no further warnings.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        strategy.generate(500, ctx)


def test_explicit_bfloat16_ascent_raises_what_the_teacher_raises():
    ctx = _ascent_context(teacher=_Float32Only(6))
    strategy = BoundedGapQueries(alpha=1.0, ascent_precision="bfloat16")
    strategy.start(ctx)
    with pytest.raises(RuntimeError, match="float32 only"):
        strategy.generate(500, ctx)


def test_bad_ascent_precision_is_rejected():
    with pytest.raises(ValueError, match="ascent_precision"):
        resolve_strategy(BoundedGapQueries(ascent_precision="float16"))
    with pytest.raises(ValueError, match="ascent_precision must be"):
        BoundedGapQueries(ascent_precision="half").start(_ascent_context())
