import numpy as np
import pytest
import torch
from conftest import make_mlp
from sklearn.base import clone
from torch import nn

from skdistill import (
    BoundedGapQueries,
    GaussianQueries,
    GeneratorQueries,
    InputDomain,
    LatinHypercubeQueries,
    QueryContext,
    UniformQueries,
)
from skdistill._queries import resolve_strategy
from skdistill._teachers import as_teacher


def _context(domain, teacher=None, student=None):
    n = domain.n_features
    teacher = teacher if teacher is not None else make_mlp(n, seed=1)
    return QueryContext(
        teacher=as_teacher(teacher, device="cpu"),
        student=student if student is not None else make_mlp(n, seed=2),
        domain=domain,
        y_loc=torch.zeros(1, 1),
        y_scale=torch.ones(1, 1),
        generator=torch.Generator().manual_seed(0),
        rng=np.random.default_rng(0),
        device=torch.device("cpu"),
    )


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
    ctx = _context(domain)
    strategy.start(ctx)
    for progress in (0.0, 0.5, 1.0):
        ctx.progress = progress
        x = strategy.generate(300, ctx)
        assert x.shape == (300, 4) and x.dtype == torch.float32
        assert torch.isfinite(x).all()
        assert domain.contains(x)


def test_latin_hypercube_is_stratified_in_every_feature():
    domain = InputDomain.from_bounds([0, 0, 0], [1, 1, 1])
    ctx = _context(domain)
    x = LatinHypercubeQueries().generate(50, ctx).numpy()
    for j in range(3):
        strata = np.floor(x[:, j] * 50).astype(int)
        assert sorted(strata) == list(range(50))


def test_bounded_gap_queries_have_a_larger_gap_than_base_queries():
    domain = InputDomain.standard_normal(6)
    ctx = _context(domain, teacher=make_mlp(6, seed=1), student=make_mlp(6, seed=2))
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
    ctx = _context(domain)
    strategy = BoundedGapQueries(alpha=0.0, scale_mixture=0.0)
    strategy.start(ctx)
    x = strategy.generate(4000, ctx).numpy()
    # alpha=0: plain N(0, 1) queries, no optimisation steps.
    np.testing.assert_allclose(x.std(0), 1, atol=0.05)


def test_black_box_bounded_gap_evolves_high_gap_queries(forest):
    domain = InputDomain.from_bounds(np.zeros(10), np.ones(10))
    student = nn.Sequential(nn.Linear(10, 1))
    ctx = _context(domain, teacher=forest, student=student)
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
    ctx = _context(InputDomain.standard_normal(4))
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
    ctx = _context(domain, teacher=forest, student=nn.Sequential(nn.Linear(10, 1)))
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
    ctx = _context(InputDomain.standard_normal(4))
    with pytest.raises(ValueError, match="black_box must be"):
        BoundedGapQueries(black_box="magic").start(ctx)
