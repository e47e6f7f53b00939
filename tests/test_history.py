"""history_ as a DataFrame, and the progress bar that verbose=1 shows."""

import numpy as np
import pytest
from conftest import FAST

from skdistill import DataFreeDistillRegressor, DistillationHistory

pd = pytest.importorskip("pandas")


def test_history_is_the_students_skorch_history(distiller):
    assert isinstance(distiller.history_, DistillationHistory)
    assert distiller.history_ is distiller.student_.history
    # skorch's slicing still works
    assert len(distiller.history_[:, "holdout_r2"]) == len(distiller.history_)


def test_to_frame_has_one_row_per_round_and_readable_columns(distiller):
    frame = distiller.history_.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == len(distiller.history_)
    assert frame.index.name == "round"
    assert list(frame.index) == list(range(1, len(frame) + 1))
    for column in ("n_queries", "seconds", "train_loss", "holdout_loss"):
        assert column in frame
    for column in ("holdout_rmse", "holdout_r2", "lr", "dur", "best"):
        assert column in frame
    assert "batches" not in frame  # skorch's per-batch records stay out
    np.testing.assert_allclose(frame["holdout_r2"], distiller.history_[:, "holdout_r2"])
    assert frame["n_queries"].is_monotonic_increasing
    assert frame["n_queries"].iloc[-1] == distiller.n_teacher_queries_


def test_to_frame_marks_the_kept_round(distiller):
    frame = distiller.history_.to_frame()
    assert frame["best"].sum() == 1
    kept = frame.index[frame["best"]][0]
    assert frame.loc[kept, "holdout_loss"] == frame["holdout_loss"].min()


def test_to_frame_without_pandas_says_what_to_install(distiller, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        distiller.history_.to_frame()


def test_silent_by_default(forest, friedman_bounds, capsys):
    DataFreeDistillRegressor(forest, domain=friedman_bounds, **FAST).fit()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_1_shows_a_query_progress_bar_with_fidelity(
    forest, friedman_bounds, capsys
):
    DataFreeDistillRegressor(forest, domain=friedman_bounds, verbose=1, **FAST).fit()
    captured = capsys.readouterr()
    assert "distilling" in captured.err
    assert "100%" in captured.err
    assert "4.00k/4.00k" in captured.err  # the query budget, not rounds
    assert "hold-out R²" in captured.err
    assert "RMSE" in captured.err
    assert "holdout_r2" not in captured.out  # no per-round table as well


def test_verbose_2_prints_skorchs_table_instead(forest, friedman_bounds, capsys):
    DataFreeDistillRegressor(forest, domain=friedman_bounds, verbose=2, **FAST).fit()
    captured = capsys.readouterr()
    assert "holdout_r2" in captured.out
    assert "distilling" not in captured.err


def test_progress_bar_of_a_warm_start_ends_full(forest, friedman_bounds, capsys):
    distiller = DataFreeDistillRegressor(
        forest, domain=friedman_bounds, verbose=1, warm_start=True, **FAST
    ).fit()
    capsys.readouterr()
    distiller.fit()
    err = capsys.readouterr().err
    assert "100%" in err
    assert "it/s" not in err


def test_fitted_verbose_distiller_pickles(forest, friedman_bounds):
    import pickle

    distiller = DataFreeDistillRegressor(
        forest, domain=friedman_bounds, verbose=1, **FAST
    ).fit()
    restored = pickle.loads(pickle.dumps(distiller))
    np.testing.assert_array_equal(
        restored.predict(friedman_bounds["low"][None]),
        distiller.predict(friedman_bounds["low"][None]),
    )
