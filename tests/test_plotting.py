"""The Display classes, checked through their matplotlib artists (Agg backend)."""

import sys

import numpy as np
import pytest
from conftest import FAST

from skdistill import (
    DataFreeDistillRegressor,
    DistillationCurveDisplay,
    TeacherStudentDisplay,
    fidelity_score,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def gaussian_distiller(forest, friedman_bounds):
    return DataFreeDistillRegressor(
        forest, domain=friedman_bounds, query_strategy="gaussian", **FAST
    ).fit()


def test_curve_plots_the_history(distiller):
    display = DistillationCurveDisplay.from_estimator(distiller)
    history = distiller.history_
    np.testing.assert_array_equal(display.line_.get_xdata(), history[:, "n_queries"])
    np.testing.assert_allclose(display.line_.get_ydata(), history[:, "holdout_r2"])
    assert display.ax_.get_xlabel() == "Teacher queries"
    assert "R²" in display.ax_.get_ylabel()
    assert display.figure_ is display.ax_.figure
    # the kept round (lowest hold-out loss) is marked, in the line's colour
    best = int(np.argmin(history[:, "holdout_loss"]))
    assert display.best_marker_.get_xdata()[0] == history[best, "n_queries"]
    assert display.best_marker_.get_color() == display.line_.get_color()


def test_curve_label_names_the_strategy_and_the_kept_score(distiller):
    display = DistillationCurveDisplay.from_estimator(distiller)
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert len(labels) == 1  # the marker has no legend entry
    assert labels[0].startswith("bounded_gap (kept: R² ")
    assert "queries)" in labels[0]


def test_curves_of_several_strategies_share_one_axes(distiller, gaussian_distiller):
    display = DistillationCurveDisplay.from_estimator(distiller)
    other = DistillationCurveDisplay.from_estimator(gaussian_distiller, ax=display.ax_)
    assert other.ax_ is display.ax_
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert [label.split(" ")[0] for label in labels] == ["bounded_gap", "gaussian"]
    assert display.line_.get_color() != other.line_.get_color()


def test_curve_name_and_line_kwargs(distiller):
    _, ax = plt.subplots()
    display = DistillationCurveDisplay.from_estimator(
        distiller, ax=ax, name="mine", linestyle=":", color="tab:red"
    )
    assert display.ax_ is ax
    assert display.line_.get_label().startswith("mine (kept")
    assert display.line_.get_linestyle() == ":"
    assert display.best_marker_.get_color() == "tab:red"


@pytest.mark.parametrize(
    "metric, word", [("holdout_rmse", "RMSE"), ("holdout_loss", "loss")]
)
def test_curve_other_metrics(distiller, metric, word):
    display = DistillationCurveDisplay.from_estimator(distiller, metric=metric)
    np.testing.assert_allclose(display.line_.get_ydata(), distiller.history_[:, metric])
    assert word in display.ax_.get_ylabel()


def test_curve_keeps_a_very_negative_first_round_off_the_axis():
    display = DistillationCurveDisplay(
        n_queries=np.arange(1, 9) * 1000,
        scores=[-30.0, -2.0, 0.5, 0.8, 0.9, 0.95, 0.96, 0.97],
        best_index=7,
    ).plot()
    bottom, top = display.ax_.get_ylim()
    assert -0.2 < bottom < 0.0
    assert 0.97 < top <= 1.1


def test_curve_rejects_unknown_metric_and_ragged_input(distiller):
    with pytest.raises(ValueError, match="metric must be one of"):
        DistillationCurveDisplay(n_queries=[1], scores=[1.0], metric="r2")
    with pytest.raises(ValueError, match="same length"):
        DistillationCurveDisplay(n_queries=[1, 2], scores=[1.0])


def test_scatter_teacher_vs_student(distiller, forest, friedman):
    X, _ = friedman
    display = TeacherStudentDisplay.from_estimator(distiller, X, subsample=None)
    offsets = display.scatter_.get_offsets()
    assert offsets.shape == (X.shape[0], 2)
    np.testing.assert_allclose(offsets[:, 0], forest.predict(X), rtol=1e-5)
    np.testing.assert_allclose(offsets[:, 1], distiller.predict(X), rtol=1e-5)
    assert display.r2 == pytest.approx(fidelity_score(distiller, X), abs=1e-12)
    # the y = x line spans the data, and the axes are square
    x_line, y_line = display.line_.get_data()
    np.testing.assert_array_equal(x_line, y_line)
    assert x_line[0] <= offsets.min() and x_line[-1] >= offsets.max()
    assert display.ax_.get_xlim() == display.ax_.get_ylim()
    assert display.ax_.get_xlabel() == "Teacher prediction"
    assert display.ax_.get_ylabel() == "Student prediction"
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert f"R² = {display.r2:.4f}" in labels
    assert "y = x (perfect copy)" in labels


def test_scatter_subsamples_but_scores_all_rows(distiller, friedman):
    X, _ = friedman
    display = TeacherStudentDisplay.from_estimator(
        distiller, X, subsample=100, random_state=0, name="student"
    )
    assert display.scatter_.get_offsets().shape == (100, 2)
    assert display.r2 == pytest.approx(fidelity_score(distiller, X), abs=1e-12)
    assert display.scatter_.get_label() == f"student: R² = {display.r2:.4f}"
    half = TeacherStudentDisplay.from_predictions(
        np.arange(10.0), np.arange(10.0), subsample=0.5
    )
    assert half.scatter_.get_offsets().shape == (5, 2)
    assert half.r2 == 1.0


@pytest.mark.parametrize("subsample", [0, -3, 1.5, "all"])
def test_scatter_rejects_bad_subsample(subsample):
    with pytest.raises(ValueError, match="subsample"):
        TeacherStudentDisplay.from_predictions(
            [1.0, 2.0], [1.0, 2.0], subsample=subsample
        )


def test_scatter_kwargs_reach_matplotlib(distiller, friedman):
    X, _ = friedman
    display = TeacherStudentDisplay.from_estimator(
        distiller,
        X,
        scatter_kwargs={"color": "tab:green"},
        line_kwargs={"color": "tab:red"},
    )
    assert display.line_.get_color() == "tab:red"
    np.testing.assert_allclose(
        display.scatter_.get_facecolor()[0][:3],
        matplotlib.colors.to_rgb("tab:green"),
    )


def test_displays_need_a_fitted_distiller(forest, friedman):
    X, _ = friedman
    with pytest.raises(TypeError, match="DataFreeDistillRegressor"):
        DistillationCurveDisplay.from_estimator(forest)
    with pytest.raises(TypeError, match="DataFreeDistillRegressor"):
        TeacherStudentDisplay.from_estimator(forest, X)


def test_without_matplotlib_the_error_says_what_to_install(distiller, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"skdistill\[plot\]"):
        DistillationCurveDisplay.from_estimator(distiller)
