"""scikit-learn citizenship: clone, search, pipelines, persistence, the API checks."""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
from conftest import make_mlp, teacher_predict
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch import NeuralNetRegressor

from skdistill import (
    DataFreeDistillRegressor,
    MLPStudent,
    fidelity_score,
    fidelity_scorer,
)

TINY = dict(max_queries=4000, round_size=1024, n_holdout=256, random_state=0)


class TeacherSnapshot:
    """A fitted forest as it is now, to assert later that nothing touched it."""

    def __init__(self, forest, X):
        self.forest, self.X = forest, X
        self.hash = joblib.hash(forest)
        self.estimators = list(forest.estimators_)
        self.pred = forest.predict(X)

    def assert_unchanged(self):
        assert len(self.forest.estimators_) == len(self.estimators)
        assert all(a is b for a, b in zip(self.forest.estimators_, self.estimators))
        assert joblib.hash(self.forest) == self.hash
        np.testing.assert_array_equal(self.forest.predict(self.X), self.pred)


@pytest.fixture
def snapshot(forest, friedman):
    return TeacherSnapshot(forest, friedman[0])


@pytest.fixture(scope="module")
def friedman_frame(friedman):
    X, y = friedman
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])]), y


@pytest.fixture(scope="module")
def named_forest(friedman_frame):
    X, y = friedman_frame
    return RandomForestRegressor(n_estimators=10, max_depth=6, random_state=0).fit(X, y)


# -- clone, search, pipelines -------------------------------------------------


def test_clone_keeps_the_teacher_and_clones_every_other_parameter(
    forest, friedman_bounds, snapshot
):
    student = NeuralNetRegressor(MLPStudent, module__n_features=10)
    d = DataFreeDistillRegressor(
        forest, domain=friedman_bounds, student=student, **TINY
    )
    cloned = clone(d)
    assert cloned.teacher is forest
    assert cloned.student is not student and cloned.domain is not d.domain
    np.testing.assert_array_equal(cloned.domain["low"], friedman_bounds["low"])
    assert cloned.get_params(deep=False).keys() == d.get_params(deep=False).keys()

    d.fit()
    refit = clone(d)
    assert refit.teacher is forest
    assert not hasattr(refit, "student_")
    snapshot.assert_unchanged()


def test_grid_search_never_refits_or_modifies_the_teacher(forest, friedman, snapshot):
    X, y = friedman
    search = GridSearchCV(
        DataFreeDistillRegressor(forest, **TINY),
        {"hidden_layer_sizes": [(4,), (16,)]},
        cv=2,
    ).fit(X, y)
    assert search.best_estimator_.teacher is forest
    assert search.best_score_ > 0.5
    snapshot.assert_unchanged()


def test_cross_val_score_never_refits_or_modifies_the_teacher(
    forest, friedman, snapshot
):
    X, y = friedman
    scores = cross_val_score(DataFreeDistillRegressor(forest, **TINY), X, y, cv=2)
    assert scores.shape == (2,) and np.all(scores > 0.5)
    snapshot.assert_unchanged()


def test_distiller_as_the_last_step_of_a_pipeline(forest, friedman, snapshot):
    X, y = friedman
    distiller = DataFreeDistillRegressor(forest, **TINY)
    pipe = make_pipeline(FunctionTransformer(), distiller).fit(X, y)
    np.testing.assert_array_equal(pipe.predict(X), pipe[-1].predict(X))
    assert pipe[-1].teacher is forest and clone(pipe)[-1].teacher is forest
    assert pipe.score(X, y) > 0.5
    assert fidelity_score(pipe, X) == pytest.approx(fidelity_score(pipe[-1], X))
    snapshot.assert_unchanged()


@pytest.mark.parametrize("persist", ["pickle", "joblib"])
def test_round_trip_predicts_the_same(persist, forest, friedman, snapshot, tmp_path):
    X, _ = friedman
    d = DataFreeDistillRegressor(forest, **TINY).fit(X)
    if persist == "pickle":
        again = pickle.loads(pickle.dumps(d))
    else:
        joblib.dump(d, tmp_path / "distiller.joblib")
        again = joblib.load(tmp_path / "distiller.joblib")
    np.testing.assert_array_equal(again.predict(X), d.predict(X))
    np.testing.assert_array_equal(again.teacher.predict(X), forest.predict(X))
    assert fidelity_score(again, X) == pytest.approx(fidelity_score(d, X))
    snapshot.assert_unchanged()


def test_teacher_parameters_are_hidden_and_cannot_be_set(forest):
    d = DataFreeDistillRegressor(forest, **TINY)
    params = d.get_params(deep=True)
    assert params["teacher"] is forest and "max_queries" in params
    assert not any(name.startswith("teacher__") for name in params)
    with pytest.raises(ValueError, match=r"teacher__n_estimators.*fitted input"):
        d.set_params(teacher__n_estimators=1)
    assert forest.n_estimators == 20
    d.set_params(max_queries=5000)  # the distiller's own parameters still work
    assert d.max_queries == 5000


def test_skorch_teacher_is_not_reinitialised_by_set_params():
    X = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    net = NeuralNetRegressor(
        MLPStudent, module__n_features=4, max_epochs=1, train_split=None, verbose=0
    ).fit(X, X[:, :1])
    module = net.module_
    with pytest.raises(ValueError, match="fitted input"):
        DataFreeDistillRegressor(net).set_params(teacher__module__n_features=2)
    assert net.module_ is module


# -- FrozenEstimator and feature names ------------------------------------------


def test_frozen_estimator_is_a_teacher(named_forest, friedman_frame, friedman_bounds):
    X, _ = friedman_frame
    frozen = FrozenEstimator(named_forest)
    before = named_forest.predict(X)
    d = DataFreeDistillRegressor(frozen, domain=friedman_bounds, **TINY).fit()
    # FrozenEstimator passes n_features_in_, feature_names_in_ and the fitted
    # check through to the model it wraps.
    assert d.n_features_in_ == 10
    np.testing.assert_array_equal(d.feature_names_in_, named_forest.feature_names_in_)
    assert clone(d).teacher is frozen and frozen.estimator is named_forest
    assert fidelity_score(d, X) > 0.5
    np.testing.assert_array_equal(named_forest.predict(X), before)


def test_unfitted_frozen_estimator_is_not_fitted():
    d = DataFreeDistillRegressor(FrozenEstimator(RandomForestRegressor()), n_features=3)
    with pytest.raises(NotFittedError, match="FrozenEstimator is not fitted"):
        d.fit()


def test_feature_names_come_from_the_teacher(
    named_forest, friedman_frame, friedman_bounds
):
    X, _ = friedman_frame
    d = DataFreeDistillRegressor(named_forest, domain=friedman_bounds, **TINY).fit()
    np.testing.assert_array_equal(d.feature_names_in_, X.columns)
    assert d.predict(X).shape == (len(X),)
    with pytest.raises(ValueError, match="feature names should match"):
        d.predict(X[X.columns[::-1]])
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        d.predict(X.to_numpy())

    # Rows without names take the teacher's names too.
    d.fit(X.to_numpy())
    np.testing.assert_array_equal(d.feature_names_in_, X.columns)


def test_fit_rows_must_have_the_teachers_columns_in_order(named_forest, friedman_frame):
    X, _ = friedman_frame
    d = DataFreeDistillRegressor(named_forest, **TINY)
    with pytest.raises(ValueError, match="differ from the teacher's feature_names_in_"):
        d.fit(X[X.columns[::-1]])
    d.fit(X)
    np.testing.assert_array_equal(d.feature_names_in_, X.columns)


def test_fit_rows_name_the_features_of_an_unnamed_teacher(
    forest, friedman_frame, friedman_bounds
):
    X, _ = friedman_frame
    d = DataFreeDistillRegressor(forest, **TINY).fit(X)
    np.testing.assert_array_equal(d.feature_names_in_, X.columns)
    assert d.n_features_in_ == 10
    d.set_params(domain=friedman_bounds).fit()  # no rows: no stale names
    assert not hasattr(d, "feature_names_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d.predict(X.to_numpy())


def test_fit_rows_of_the_wrong_width_name_the_width(forest, friedman):
    X, _ = friedman
    with pytest.raises(ValueError, match="input width 5 .* takes 10 features"):
        DataFreeDistillRegressor(forest, **TINY).fit(X[:, :5])


# -- model selection semantics and fidelity -----------------------------------


def test_cross_validation_fits_on_fold_rows_and_scores_the_held_out_fold(
    forest, friedman
):
    X, y = friedman
    d = DataFreeDistillRegressor(forest, **TINY)
    cv = KFold(2, shuffle=True, random_state=0)
    scoring = {"r2": "r2", "fidelity": fidelity_scorer}
    result = cross_validate(d, X, y, cv=cv, scoring=scoring)

    # The same as fitting on each training fold's rows alone, no labels, and
    # scoring on the held-out fold.
    r2, fidelity = [], []
    for train, test in cv.split(X):
        fold = clone(d).fit(X[train])
        r2.append(fold.score(X[test], y[test]))
        fidelity.append(fidelity_score(fold, X[test]))
    np.testing.assert_allclose(result["test_r2"], r2, rtol=1e-6)
    np.testing.assert_allclose(result["test_fidelity"], fidelity, rtol=1e-6)

    # Labels touch only the R² against y: fidelity does not change with them.
    shuffled = np.random.default_rng(0).permutation(y)
    again = cross_validate(d, X, shuffled, cv=cv, scoring=scoring)
    np.testing.assert_array_equal(again["test_fidelity"], result["test_fidelity"])
    assert np.all(again["test_r2"] < result["test_r2"] - 0.5)


def test_grid_search_by_fidelity_picks_the_larger_student_without_labels(
    forest, friedman
):
    X, _ = friedman
    search = GridSearchCV(
        DataFreeDistillRegressor(forest, **TINY),
        {"hidden_layer_sizes": [(1,), (32,)]},
        scoring=fidelity_scorer,
        cv=2,
    ).fit(X)  # no y anywhere
    assert search.best_params_ == {"hidden_layer_sizes": (32,)}
    small, large = search.cv_results_["mean_test_score"]
    assert large > small + 0.1 and large > 0.6
    assert search.best_estimator_.teacher is forest


def test_fidelity_score_is_r2_against_the_teacher(forest, friedman, friedman_bounds):
    X, _ = friedman
    d = DataFreeDistillRegressor(forest, domain=friedman_bounds, **TINY).fit()
    expected = r2_score(forest.predict(X), d.predict(X))
    assert fidelity_score(d, X) == pytest.approx(expected, rel=1e-5)
    assert fidelity_scorer(d, X, np.zeros(len(X))) == fidelity_score(d, X)

    mlp = make_mlp()  # a white-box teacher, two outputs averaged
    mlp2 = make_mlp(n_outputs=2)
    Z = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32)
    for teacher in [mlp, mlp2]:
        d = DataFreeDistillRegressor(teacher, **TINY).fit()
        expected = r2_score(teacher_predict(teacher, Z), d.predict(Z).reshape(300, -1))
        assert fidelity_score(d, Z) == pytest.approx(expected, rel=1e-4)


def test_fidelity_score_needs_a_fitted_distiller(forest, friedman):
    X, _ = friedman
    with pytest.raises(TypeError, match="needs a fitted DataFreeDistillRegressor"):
        fidelity_score(forest, X)
    with pytest.raises(NotFittedError):
        fidelity_score(DataFreeDistillRegressor(forest), X)


# -- scikit-learn's API checks ----------------------------------------------------


class AnyWidthTeacher(RegressorMixin, BaseEstimator):
    """A fitted teacher that takes any number of features: sum(sin(x))."""

    def fit(self, X, y=None):
        raise AssertionError("The distiller must never refit its teacher.")

    def __sklearn_is_fitted__(self):
        return True

    def predict(self, X):
        return np.sin(np.asarray(X, dtype=np.float64)).sum(axis=1)


# y is a label the distiller never uses (fit(X) ignores it; the teacher
# labels the queries), so the checks that train on y cannot apply.
EXPECTED_FAILED_CHECKS = {
    "check_regressors_train": (
        "fit ignores y, so a y of the wrong length is no error, and the student "
        "learns the teacher's function, not y (R² against y is low)"
    ),
    "check_regressor_multioutput": (
        "the output shape follows the teacher's predictions, not the shape of y"
    ),
    "check_supervised_y_no_nan": "fit ignores y, so NaN or inf in y is harmless",
}


@parametrize_with_checks(
    [
        DataFreeDistillRegressor(
            AnyWidthTeacher(),
            max_queries=200,
            round_size=64,
            n_holdout=32,
            batch_size=32,
            n_passes=1,
            hidden_layer_sizes=(4,),
            device="cpu",
            random_state=0,
        )
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_api_checks(estimator, check):
    check(estimator)
