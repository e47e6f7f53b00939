"""The teacher's noise inputs: found by their sensitivities, averaged over by the student."""

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from skdistill import DataFreeDistillRegressor, InputDomain
from skdistill._sensitivity import input_sensitivity, noise_floor
from skdistill._teachers import as_teacher

FAST = dict(max_queries=20_000, random_state=0)


def truth(x):
    """What the teacher below was fitted to find: a function of x[:, :5]."""
    return (
        torch.sin(x[:, 0] * x[:, 1]) + 0.5 * x[:, 2] ** 2 + x[:, 3] + 0.5 * x[:, 4]
    ).unsqueeze(1)


class NoisyTeacher(nn.Module):
    """The truth plus a small odd function of 5 inputs that do not bear on it.

    Like a network fitted with irrelevant inputs: it responds a little to
    each of them, about equally, and averages to the truth over them.
    """

    def __init__(self):
        super().__init__()
        self.width = nn.Linear(10, 1)  # declares the input width only

    def forward(self, x):
        return truth(x) + 0.4 * torch.sin(x[:, 5:]).sum(dim=1, keepdim=True) / 5**0.5


class RecordingTeacher(NoisyTeacher):
    """Records every batch it labels (class-level: the adapter copies modules)."""

    labelled = []

    def forward(self, x):
        if torch.is_inference_mode_enabled():
            RecordingTeacher.labelled.append(x.clone())
        return super().forward(x)


@pytest.fixture(scope="module")
def rows():
    x = torch.randn(3000, 10, generator=torch.Generator().manual_seed(5))
    return x.numpy(), truth(x).numpy().ravel()


def rmse(a, b):
    return float(np.sqrt(np.mean((np.ravel(a) - np.ravel(b)) ** 2)))


# -- noise_floor ----------------------------------------------------------------
def _shares(values):
    values = np.asarray(values, dtype=float)
    return values / values.sum()


def test_noise_floor_finds_a_cluster_of_exchangeable_low_sensitivities():
    share = _shares([40, 30, 2, 1.5, 0.1, 0.12, 0.08, 0.11])
    mask = noise_floor(share, np.ones(8, bool))
    np.testing.assert_array_equal(mask, [0, 0, 0, 0, 1, 1, 1, 1])


def test_noise_floor_keeps_graded_weak_features():
    # compactiv-like: one dominant input, the rest small but spread over 20x.
    share = _shares([95, 1.0, 0.6, 0.4, 0.3, 0.2, 0.12, 0.08, 0.05])
    assert not noise_floor(share, np.ones(9, bool)).any()


def test_noise_floor_needs_a_gap_to_the_features_above_it():
    share = _shares([1.0, 0.9, 0.5, 0.3, 0.25])  # no factor of 4 anywhere
    assert not noise_floor(share, np.ones(5, bool)).any()


def test_noise_floor_is_at_most_a_small_share_of_the_sensitivity():
    # Twenty equal inputs far below one strong one, but 17% of the total:
    # they matter together, so they are not noise.
    share = _shares([100] + [1] * 20)
    assert not noise_floor(share, np.ones(21, bool)).any()


def test_noise_floor_needs_two_features_and_respects_eligibility():
    share = _shares([50, 40, 0.1])  # a single low feature is no floor
    assert not noise_floor(share, np.ones(3, bool)).any()
    share = _shares([50, 40, 30, 0.1, 0.1])
    eligible = np.array([1, 1, 1, 1, 0], bool)  # the last one is not eligible
    assert not noise_floor(share, eligible).any()
    np.testing.assert_array_equal(noise_floor(share, np.ones(5, bool)), [0, 0, 0, 1, 1])


# -- input_sensitivity ---------------------------------------------------------
def test_input_sensitivity_of_a_linear_teacher_is_its_squared_slopes():
    linear = nn.Linear(3, 1)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[3.0, -1.0, 0.5]]))
    teacher = as_teacher(linear, device="cpu")
    x = torch.randn(256, 3)
    scale = np.array([1.0, 2.0, 0.0])  # per standard unit; zero scale counts 0
    share = input_sensitivity(teacher, x, scale, torch.ones(1, 1))
    np.testing.assert_allclose(share, [9 / 13, 4 / 13, 0.0], rtol=1e-6)
    assert teacher.n_queries == 0  # the gradient pass is not new queries


# -- the estimator -------------------------------------------------------------
def test_auto_averages_over_the_noise_inputs_and_gets_closer_to_the_truth(rows):
    X, y_true = rows
    teacher = NoisyTeacher()
    with torch.no_grad():
        y_teacher = teacher(torch.as_tensor(X)).numpy().ravel()
    auto = DataFreeDistillRegressor(teacher, **FAST).fit()
    copy = DataFreeDistillRegressor(teacher, noise_features=None, **FAST).fit()

    np.testing.assert_array_equal(auto.noise_features_, [0] * 5 + [1] * 5)
    assert auto.domain_.averaged.tolist() == [False] * 5 + [True] * 5
    assert auto.teacher_sensitivity_.sum() == pytest.approx(1.0)
    assert auto.teacher_sensitivity_[5:].max() < auto.teacher_sensitivity_[:5].min()
    assert not copy.noise_features_.any()
    np.testing.assert_allclose(copy.teacher_sensitivity_, auto.teacher_sensitivity_)

    # The averaged student predicts the truth better and copies the teacher
    # less; it ignores the noise inputs entirely.
    assert rmse(auto.predict(X), y_true) < 0.9 * rmse(copy.predict(X), y_true)
    assert rmse(copy.predict(X), y_teacher) < rmse(auto.predict(X), y_teacher)
    shuffled = X.copy()
    shuffled[:, 5:] = np.random.default_rng(0).permutation(shuffled[:, 5:])
    np.testing.assert_allclose(auto.predict(shuffled), auto.predict(X), atol=1e-5)


def test_averaged_inputs_follow_the_base_distribution_in_every_query():
    RecordingTeacher.labelled.clear()
    DataFreeDistillRegressor(RecordingTeacher(), **FAST).fit()
    x = torch.cat(RecordingTeacher.labelled).numpy()
    assert x.shape[0] >= FAST["max_queries"] - 16  # every label, probe aside
    # Never rescaled nor climbed: standard normal. The kept inputs are
    # rescaled by the scale mixture (heavy tails) and climbed.
    for j in range(5, 10):
        assert abs(x[:, j].std() - 1) < 0.03
        assert abs(stats.kurtosis(x[:, j])) < 0.15
    for j in range(5):
        assert stats.kurtosis(x[:, j]) > 1.0


def test_none_copies_every_input_and_changes_nothing(rows):
    X, _ = rows
    teacher = NoisyTeacher()
    copy = DataFreeDistillRegressor(teacher, noise_features=None, **FAST).fit()
    assert copy.domain_ == InputDomain.standard_normal(10)
    # The student responds to every input.
    moved = X.copy()
    moved[:, 7] += 1.0
    assert not np.allclose(copy.predict(moved), copy.predict(X))


@pytest.mark.parametrize(
    "given",
    [[1, 3], np.array([False, True, False, True, False, False]), ["b", "d"]],
    ids=["indices", "mask", "names"],
)
def test_given_noise_features_work_for_black_box_teachers(given):
    pd = pytest.importorskip("pandas")
    from sklearn.datasets import make_friedman1
    from sklearn.linear_model import Ridge

    X, y = make_friedman1(n_samples=300, n_features=6, random_state=0)
    frame = pd.DataFrame(X, columns=list("abcdef"))
    ridge = Ridge().fit(frame, y)
    distiller = DataFreeDistillRegressor(
        ridge,
        domain={"low": X.min(0), "high": X.max(0)},
        noise_features=given,
        max_queries=6000,
        random_state=0,
    ).fit()
    np.testing.assert_array_equal(distiller.noise_features_, [0, 1, 0, 1, 0, 0])
    assert distiller.teacher_sensitivity_ is None  # a black box: no gradients
    moved = frame.copy()
    moved[["b", "d"]] = moved[["b", "d"]][::-1].to_numpy()
    np.testing.assert_allclose(distiller.predict(moved), distiller.predict(frame))


def test_auto_leaves_black_box_teachers_alone(forest, friedman_bounds):
    distiller = DataFreeDistillRegressor(
        forest, domain=friedman_bounds, max_queries=4000, random_state=0
    ).fit()
    assert not distiller.noise_features_.any()
    assert distiller.teacher_sensitivity_ is None


class DetachedTeacher(NoisyTeacher):
    """A torch teacher without input gradients (it detaches its output)."""

    def forward(self, x):
        return super().forward(x).detach()


def test_a_torch_teacher_without_gradients_is_left_alone():
    distiller = DataFreeDistillRegressor(
        DetachedTeacher(), query_strategy="gaussian", **FAST
    ).fit()
    assert distiller.teacher_sensitivity_ is None
    assert not distiller.noise_features_.any()


@pytest.mark.parametrize(
    "given, message",
    [
        ([0, 12], r"indices \[12\] outside the 10 features"),
        ([True, False], "needs 10 values"),
        (["x0"], "neither the teacher nor fit\\(X\\) gave feature names"),
        ([0.5], "integers"),
        ([[0, 1]], "1-D"),
    ],
)
def test_bad_noise_features_are_refused_with_a_clear_message(given, message):
    distiller = DataFreeDistillRegressor(NoisyTeacher(), noise_features=given, **FAST)
    with pytest.raises(ValueError, match=message):
        distiller.fit()


def test_unknown_feature_names_are_refused(friedman):
    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import Ridge

    X, y = friedman
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    distiller = DataFreeDistillRegressor(
        Ridge().fit(frame, y), noise_features=["x1", "nope"], **FAST
    )
    with pytest.raises(ValueError, match=r"names \['nope'\]"):
        distiller.fit(frame)
