"""compression_report: size, parameters, latency and fidelity in one call."""

import dataclasses
import json
import pickle

import numpy as np
import pytest
import torch
from conftest import FAST, make_mlp
from sklearn.neural_network import MLPRegressor

from skdistill import (
    CompressionReport,
    DataFreeDistillRegressor,
    compression_report,
    fidelity_score,
)


@pytest.fixture(scope="module")
def report(distiller, friedman):
    X, _ = friedman
    return compression_report(distiller, X, n_repeats=3)


def test_report_measures_teacher_and_student_on_the_given_rows(
    report, distiller, forest, friedman
):
    X, _ = friedman
    assert isinstance(report, CompressionReport)
    assert report.teacher_name == "RandomForestRegressor"
    assert report.n_rows == X.shape[0]
    assert report.n_repeats == 3
    assert report.teacher_bytes == len(
        pickle.dumps(forest, protocol=pickle.HIGHEST_PROTOCOL)
    )
    module = distiller.student_.module_
    assert report.student_bytes == len(
        pickle.dumps(distiller.student_, protocol=pickle.HIGHEST_PROTOCOL)
    )
    assert report.student_n_parameters == sum(p.numel() for p in module.parameters())
    assert report.teacher_n_parameters is None  # a forest has no weights to count
    assert report.teacher_latency > 0
    assert report.student_latency > 0


def test_report_fidelity_matches_fidelity_score(report, distiller, forest, friedman):
    X, _ = friedman
    assert report.r2 == pytest.approx(fidelity_score(distiller, X), abs=1e-12)
    error = distiller.predict(X) - forest.predict(X)
    assert report.rmse == pytest.approx(np.sqrt(np.mean(error**2)), rel=1e-5)
    assert report.max_abs_error == pytest.approx(np.abs(error).max(), rel=1e-5)


def test_derived_ratios(report):
    assert report.size_ratio == pytest.approx(
        report.teacher_bytes / report.student_bytes
    )
    # A 20-tree forest vs the whole pickled skorch net (weights, optimizer
    # state, history): smaller, though far from the module alone.
    assert report.size_ratio > 1
    assert report.speedup == pytest.approx(
        report.teacher_latency / report.student_latency
    )


def test_to_dict_is_plain_and_complete(report):
    as_dict = report.to_dict()
    field_names = {f.name for f in dataclasses.fields(CompressionReport)}
    assert set(as_dict) == field_names | {"size_ratio", "speedup"}
    assert json.loads(json.dumps(as_dict)) == as_dict


def test_report_is_frozen(report):
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.r2 = 1.0


def test_repr_is_a_readable_table(report):
    text = repr(report)
    assert text == str(report)
    lines = text.splitlines()
    assert lines[0].startswith("Compression report: RandomForestRegressor")
    assert "600 rows" in lines[0]
    assert "teacher" in lines[1] and "student" in lines[1]
    for label in ("pickled size", "parameters", "predict latency", "fidelity"):
        assert any(line.strip().startswith(label) for line in lines)
    assert "smaller" in text
    assert f"R² {report.r2:.4f}" in text
    assert max(len(line) for line in lines) < 100


def test_ratio_below_one_reads_as_larger_or_slower():
    report = CompressionReport(
        teacher_name="Tiny",
        n_rows=10,
        n_repeats=1,
        teacher_bytes=100,
        student_bytes=400,
        teacher_n_parameters=3,
        student_n_parameters=30,
        teacher_latency=1e-6,
        student_latency=2e-6,
        r2=1.0,
        rmse=0.0,
        max_abs_error=0.0,
    )
    text = str(report)
    assert "4x larger" in text
    assert "2x slower" in text


def test_torch_teacher_parameters_are_counted(friedman):
    torch_teacher = make_mlp(n_features=8)
    distiller = DataFreeDistillRegressor(torch_teacher, **FAST).fit()
    X = np.random.default_rng(0).normal(size=(50, 8))
    report = compression_report(distiller, X, n_repeats=1)
    assert report.teacher_n_parameters == sum(
        p.numel() for p in torch_teacher.parameters()
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_mlp_regressor_teacher_parameters_are_counted(friedman):
    X, y = friedman
    mlp = MLPRegressor(hidden_layer_sizes=(7,), max_iter=5, random_state=0).fit(X, y)
    from skdistill._report import _n_parameters

    assert _n_parameters(mlp) == 10 * 7 + 7 + 7 * 1 + 1


def test_unpicklable_teacher_has_unknown_size(friedman):
    from skdistill._report import _pickled_bytes

    assert _pickled_bytes(lambda x: x) is None
    assert _pickled_bytes(torch.zeros(3)) > 0


@pytest.mark.parametrize("n_repeats", [0, -1, 1.5])
def test_bad_n_repeats(distiller, friedman, n_repeats):
    X, _ = friedman
    with pytest.raises(ValueError, match="n_repeats"):
        compression_report(distiller, X, n_repeats=n_repeats)


def test_needs_a_fitted_distiller(forest, friedman):
    X, _ = friedman
    with pytest.raises(TypeError, match="DataFreeDistillRegressor"):
        compression_report(forest, X)
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        compression_report(DataFreeDistillRegressor(forest), X)
