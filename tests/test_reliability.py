"""Reliability: every bad input or fault gets a clear, tested outcome.

Each parametrized row is one bad input or fault, its id reads
``input or fault -> outcome``. The tables:

- TEACHER_ERRORS: teachers that cannot be distilled -> a clear error.
- TEACHER_FAULTS: teachers that fail on some queries -> dropped, counted,
  warned about once, the fit goes on.
- SLOW_TEACHERS: slow teachers -> the query and time budgets hold.
- INTERRUPTS: Ctrl-C mid-fit -> a usable best-so-far student and a warning.
- BAD_PARAMETERS: invalid parameters -> scikit-learn-style errors naming the
  parameter and the accepted values.
- BAD_INPUTS: bad inputs to predict and score -> scikit-learn's usual errors.

Below the tables: reproducibility across processes, bounded teacher calls and
no implicit pickle loading. Checkpoints, warm start and resume are in
``test_checkpoint.py``.
"""

import re
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import make_mlp, run_python
from faulty_teachers import (
    InterruptAt,
    NaNAfter,
    NaNWhere,
    NoPredict,
    Returns,
    SineTeacher,
)
from sklearn.ensemble import RandomForestRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback
from torch import nn

from skdistill import (
    BoundedGapQueries,
    DataFreeDistillRegressor,
    GeneratorQueries,
    MLPStudent,
    UniformQueries,
)
from skdistill.exceptions import FitInterruptedWarning, InvalidTeacherOutputWarning

TINY = dict(max_queries=4000, round_size=1024, n_holdout=256, random_state=0)
BOX = {"low": -2 * np.ones(5), "high": 2 * np.ones(5)}
TESTS = Path(__file__).parent


def _holdout_loss_now(distiller):
    """The hold-out loss of the student as it is (to check which round was kept)."""
    x, y = distiller._holdout  # the synthetic hold-out set the rounds were scored on
    with torch.no_grad():
        pred = distiller.student_.module_(x)
    return float((((pred - y) / y.std(dim=0)) ** 2).mean())


def _log_pipeline():
    """A Pipeline that takes logs first: it raises on inputs <= 0."""
    X = np.random.default_rng(0).uniform(0.5, 2.0, (100, 5))
    return make_pipeline(FunctionTransformer(np.log), Ridge()).fit(X, X.sum(axis=1))


def _unfitted_skorch():
    return NeuralNetRegressor(MLPStudent, module__n_features=5)


# -- teachers that cannot be distilled -> a clear error --------------------------

TEACHER_ERRORS = [
    pytest.param(
        lambda: RandomForestRegressor(n_estimators=3),
        {"n_features": 5},
        NotFittedError,
        "RandomForestRegressor is not fitted. Fit it first",
        id="unfitted sklearn teacher -> NotFittedError",
    ),
    pytest.param(
        _unfitted_skorch,
        {},
        NotFittedError,
        "NeuralNetRegressor is not fitted. Fit it first",
        id="unfitted skorch teacher -> NotFittedError",
    ),
    pytest.param(
        NoPredict,
        {},
        TypeError,
        "has no predict method",
        id="teacher without predict -> TypeError",
    ),
    pytest.param(
        lambda: Returns(lambda X: np.zeros((len(X), 2, 2))),
        {},
        ValueError,
        r"shape \(16, 2, 2\) for 16 queries; a regressor must return shape",
        id="predict returns a 3-d array -> ValueError naming the shape",
    ),
    pytest.param(
        lambda: Returns(lambda X: np.zeros(len(X) - 1)),
        {},
        ValueError,
        "returned 15 predictions for 16 queries",
        id="predict returns too few rows -> ValueError",
    ),
    pytest.param(
        lambda: Returns(lambda X: np.array(["a"] * len(X))),
        {},
        TypeError,
        "returned dtype <U1; a regressor must return real numbers",
        id="predict returns strings -> TypeError",
    ),
    pytest.param(
        lambda: Returns(lambda X: X[:, 0] + 1j),
        {},
        TypeError,
        "must return real numbers",
        id="predict returns complex numbers -> TypeError",
    ),
    pytest.param(
        lambda: Returns(lambda X: np.full(len(X), np.nan)),
        {},
        ValueError,
        "NaN or inf on all 16 queries of a probe batch, so nothing usable is left",
        id="NaN on every query -> ValueError at the probe",
    ),
    pytest.param(
        lambda: NaNAfter(n_good_calls=1),
        {},
        ValueError,
        "NaN or inf on all 256 queries of the hold-out set, so nothing usable is left",
        id="NaN on every hold-out query -> ValueError before training",
    ),
    pytest.param(
        lambda: NaNAfter(n_good_calls=2),
        {"query_strategy": "gaussian"},
        ValueError,
        "NaN or inf on all 3728 training queries, so nothing usable is left",
        id="NaN on every training query -> ValueError",
    ),
    pytest.param(
        _log_pipeline,
        {"domain": BOX},
        RuntimeError,
        r"Pipeline.predict raised ValueError \(Input X contains NaN.\) on 16 synthetic "
        r"queries .* from the input domain 'user: bounds' \(domain_\). If the teacher "
        r"accepts only some inputs, set the `domain` parameter",
        id="log Pipeline raises on a given domain -> RuntimeError naming domain",
    ),
    pytest.param(
        _log_pipeline,
        {},
        RuntimeError,
        r"from the input domain 'default: standard normal' \(domain_\). .*"
        r"domain=\{'low': \[...\], 'high': \[...\]\}",
        id="log Pipeline raises on the inferred domain -> RuntimeError saying how "
        "to set it",
    ),
]


@pytest.mark.parametrize("make_teacher, params, error, match", TEACHER_ERRORS)
def test_teacher_that_cannot_be_distilled_is_a_clear_error(
    make_teacher, params, error, match
):
    d = DataFreeDistillRegressor(make_teacher(), **{**TINY, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the inferred domain's, and np.log's
        with pytest.raises(error, match=match):
            d.fit()
    assert not hasattr(d, "student_")


# -- teachers that fail on some queries -> dropped, counted, one warning ---------


class InfWhere(nn.Module):
    """A white-box teacher that answers inf where the first input exceeds 1."""

    def __init__(self):
        super().__init__()
        self.inner = make_mlp(n_features=5)

    def forward(self, x):
        y = self.inner(x)
        return torch.where(x[:, :1] > 1, torch.full_like(y, torch.inf), y)


TEACHER_FAULTS = [
    pytest.param(
        lambda: NaNWhere(threshold=0.8),
        id="NaN on some queries (black box) -> dropped, counted, warned, fit goes on",
    ),
    pytest.param(
        lambda: NaNWhere(threshold=0.8, value=np.inf),
        id="inf on some queries (black box) -> dropped, counted, warned, fit goes on",
    ),
    pytest.param(
        InfWhere,
        id="inf on some queries (torch, with gradients) -> dropped, counted, warned, "
        "fit goes on",
    ),
]


@pytest.mark.parametrize("make_teacher", TEACHER_FAULTS)
def test_teacher_failing_on_some_queries_is_survived(make_teacher):
    teacher = make_teacher()
    d = DataFreeDistillRegressor(
        teacher, domain=BOX, n_features=5, **{**TINY, "max_queries": 8000}
    )
    with pytest.warns(InvalidTeacherOutputWarning) as record:
        d.fit()
    ours = [w for w in record if issubclass(w.category, InvalidTeacherOutputWarning)]
    assert len(ours) == 1
    assert re.search(
        r"returned NaN or inf on \d+ of 8000 queries", str(ours[0].message)
    )
    # Every query was paid for; the invalid ones were counted, not used.
    assert d.n_teacher_queries_ == 8000
    assert 0.05 * 8000 < d.n_invalid_queries_ < 0.5 * 8000
    per_round = d.history_[:, "n_invalid_queries"]
    assert np.all(np.diff(per_round) >= 0) and per_round[-1] == d.n_invalid_queries_
    assert d.stop_reason_ == "max_queries"
    assert np.all(np.isfinite(d.history_[:, "holdout_loss"]))
    # The student learned the teacher where the teacher answers.
    X = np.random.default_rng(0).uniform(-2, 0.5, (500, 5)).astype(np.float32)
    if isinstance(teacher, nn.Module):
        with torch.no_grad():
            target = teacher(torch.from_numpy(X)).numpy().ravel()
    else:
        target = teacher.predict(X)
    pred = d.predict(X).ravel()
    assert np.isfinite(pred).all()
    assert 1 - np.mean((pred - target) ** 2) / target.var() > 0.5


# -- slow teachers -> the budgets in queries and seconds hold ---------------------

SLOW_TEACHERS = [
    pytest.param(
        {"max_queries": 3000},
        id="slow teacher, max_queries=3000 -> asked 3000 queries, no more, in "
        "calls of at most round_size",
    ),
    pytest.param(
        {"max_queries": 10**7, "max_time": 1.0},
        id="slow teacher, max_time=1 s -> stops within one more teacher call",
    ),
]


@pytest.mark.parametrize("budget", SLOW_TEACHERS)
def test_slow_teacher_budget_is_respected(budget):
    delay = 0.2
    teacher = SineTeacher(delay=delay)
    d = DataFreeDistillRegressor(
        teacher,
        domain=BOX,
        query_strategy="gaussian",  # one teacher call per round
        round_size=512,
        n_holdout=256,
        random_state=0,
        **budget,
    )
    start = time.perf_counter()
    d.fit()
    seconds = time.perf_counter() - start
    assert sum(teacher.calls) == d.n_teacher_queries_ <= budget["max_queries"]
    assert max(teacher.calls) <= 512
    if "max_time" in budget:
        assert d.stop_reason_ == "max_time"
        # One round ends after max_time: one more call, plus the student's
        # steps (a few ms; the rest is slack for a loaded machine).
        assert seconds < budget["max_time"] + delay + 1.0
    else:
        assert d.stop_reason_ == "max_queries"
        assert d.n_teacher_queries_ == 3000
        assert len(teacher.calls) == 2 + -(-(3000 - 16 - 256) // 512)


# -- Ctrl-C mid-fit -> the best student so far, usable, and a warning -------------


class InterruptOnBatch(Callback):
    """Raises KeyboardInterrupt on the given training batch (a Ctrl-C in a step)."""

    def __init__(self, batch):
        self.batch = batch

    def on_batch_end(self, net, **kwargs):
        if sum(len(row["batches"]) for row in net.history) == self.batch:
            raise KeyboardInterrupt


def _interrupt_in_teacher(call):
    return {"teacher": InterruptAt(call=call)}


def _interrupt_in_callback(batch):
    student = NeuralNetRegressor(
        MLPStudent,
        module__n_features=5,
        lr=0.01,
        callbacks=[("ctrl_c", InterruptOnBatch(batch))],
    )
    return {"teacher": SineTeacher(), "student": student}


INTERRUPTS = [
    pytest.param(
        _interrupt_in_teacher(6),
        3,
        id="Ctrl-C in a teacher call, round 4 -> rounds 1-3 kept, best restored, "
        "FitInterruptedWarning",
    ),
    pytest.param(
        _interrupt_in_callback(3 * 16 + 5),
        3,
        id="Ctrl-C in a student step, round 4 -> rounds 1-3 kept, best restored, "
        "FitInterruptedWarning",
    ),
    pytest.param(
        _interrupt_in_teacher(3),
        0,
        id="Ctrl-C in round 1 -> a usable (unscored) student, FitInterruptedWarning",
    ),
]


@pytest.mark.parametrize("params, n_rounds", INTERRUPTS)
def test_ctrl_c_mid_fit_keeps_a_usable_best_student(params, n_rounds):
    d = DataFreeDistillRegressor(
        domain=BOX,
        query_strategy="gaussian",
        n_passes=4,
        batch_size=256,  # 1024 * 4 / 256 = 16 student steps per round
        **{**TINY, "max_queries": 20_000},
        **params,
    )
    with pytest.warns(FitInterruptedWarning, match="warm_start=True to continue"):
        d.fit()
    check_is_fitted(d)
    assert d.stop_reason_ == "interrupted"
    assert len(d.history_) == n_rounds  # complete rounds only
    if n_rounds:
        assert all("holdout_loss" in row for row in d.history_)
        best = min(d.history_[:, "holdout_loss"])
        assert _holdout_loss_now(d) == pytest.approx(best, rel=1e-5)
    X = np.random.default_rng(0).uniform(-2, 2, (100, 5))
    assert np.isfinite(d.predict(X)).all()


# -- parameters -> scikit-learn-style errors naming the parameter -----------------


def _no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


BAD_PARAMETERS = [
    ({"query_strategy": "nope"}, r"'query_strategy' parameter .* among \{"),
    ({"max_queries": 0}, "'max_queries' parameter of DataFreeDistillRegressor"),
    ({"max_queries": -5}, r"'max_queries' parameter .* range \[1, inf\)"),
    ({"max_queries": 1000, "n_holdout": 2048}, "leaves nothing for training"),
    ({"round_size": 0}, "'round_size' parameter"),
    ({"batch_size": -1}, "'batch_size' parameter"),
    ({"n_passes": 0}, "'n_passes' parameter"),
    ({"replay_rounds": 0}, "'replay_rounds' parameter"),
    ({"n_holdout": 0}, "'n_holdout' parameter"),
    ({"activation": "sine"}, r"'activation' parameter .* among \{"),
    ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes must be positive"),
    ({"learning_rate": 0.0}, r"'learning_rate' parameter .* range \(0.0, inf\)"),
    ({"learning_rate": "fast"}, r"'learning_rate' parameter .*\{'auto'\}"),
    ({"max_time": -1.0}, "'max_time' parameter"),
    ({"n_iter_no_change": 0}, "'n_iter_no_change' parameter"),
    ({"n_features": 0}, "'n_features' parameter"),
    ({"student": "mlp"}, "'student' parameter"),
    ({"student_init": "zeros"}, r"'student_init' parameter .* among \{"),
    (
        {"learning_rate_warmup": 1.0},
        r"'learning_rate_warmup' parameter .* \[0.0, 1.0\)",
    ),
    ({"learning_rate_warmup": -0.1}, "'learning_rate_warmup' parameter"),
    ({"teacher_backend": "fast"}, r"'teacher_backend' parameter .* among \{"),
    ({"warm_start": "yes"}, "'warm_start' parameter"),
    ({"checkpoint_dir": 3}, "'checkpoint_dir' parameter"),
    ({"n_threads": 0}, "'n_threads' parameter"),
    ({"device": "tpu"}, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got 'tpu'"),
    ({"device": 5}, "'device' parameter"),
    ({"device": "meta"}, "device must be a CPU or CUDA device"),
    ({"device": "cuda", "setup": _no_cuda}, "device='cuda' was requested but CUDA"),
    ({"device": "cuda:1", "setup": _no_cuda}, "CUDA is not available; use"),
    ({"domain": "box"}, "'domain' parameter"),
    ({"domain": {"low": [0.0] * 8}}, "A domain dict needs the keys"),
    ({"domain": {"low": [1.0] * 8, "high": [0.0] * 8}}, "low must be < high"),
    ({"domain": {"low": [0.0] * 8, "high": [0.0] * 8}}, "low must be < high"),
    ({"domain": {"low": np.zeros((2, 8)), "high": 1}}, "low must be a 1-D array"),
    ({"domain": {"low": [0.0] * 7, "high": [1.0] * 8}}, "high has 8 entries"),
    ({"domain": {"low": [np.nan] * 8, "high": [1.0] * 8}}, "low contains NaN"),
    ({"domain": {"loc": [0.0] * 3, "scale": [1.0] * 3}}, "has 3 features"),
    ({"domain": {"loc": [0.0] * 8, "scale": [-1.0] * 8}}, "scale must be >= 0"),
    (
        {"query_strategy": BoundedGapQueries(alpha=2.0)},
        r"'alpha' parameter of BoundedGapQueries must be a str among \{'linear'\} "
        r"or a float in the range \[0.0, 1.0\]",
    ),
    ({"query_strategy": BoundedGapQueries(alpha="cosine")}, "'alpha' parameter"),
    ({"query_strategy": BoundedGapQueries(black_box="magic")}, "'black_box'"),
    ({"query_strategy": BoundedGapQueries(n_steps=0)}, "'n_steps' parameter"),
    ({"query_strategy": BoundedGapQueries(step_size=-0.1)}, "'step_size'"),
    ({"query_strategy": BoundedGapQueries(rescale="column")}, "'rescale' parameter"),
    ({"query_strategy": GeneratorQueries(alpha=-0.1)}, "'alpha' parameter of Gen"),
    ({"query_strategy": UniformQueries(width=0)}, "'width' parameter of Uniform"),
]


def _short(value):
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, list) and len(value) > 2:
        return f"[{value[0]!r}] * {len(value)}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_short(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _param_id(row):
    params, _ = row
    shown = ", ".join(f"{k}={_short(v)}" for k, v in params.items() if k != "setup")
    suffix = " with CUDA absent" if "setup" in params else ""
    return f"{shown}{suffix} -> ValueError naming it"


@pytest.mark.parametrize(
    "params, match", BAD_PARAMETERS, ids=[_param_id(r) for r in BAD_PARAMETERS]
)
def test_bad_parameter_is_an_error_naming_it(params, match, monkeypatch):
    params = dict(params)
    if "setup" in params:
        params.pop("setup")(monkeypatch)
    teacher = make_mlp()
    with pytest.raises(ValueError, match=match):
        DataFreeDistillRegressor(teacher, **params).fit()


# -- bad inputs to predict and score -> scikit-learn's usual errors ---------------

COLUMNS = [f"x{i}" for i in range(5)]


@pytest.fixture(scope="module")
def fitted():
    """A distiller of a teacher fitted on a DataFrame (so it has feature names)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(-2, 2, (300, 5)), columns=COLUMNS)
    teacher = Ridge().fit(X, SineTeacher().predict(X))
    return DataFreeDistillRegressor(teacher, domain=BOX, **TINY).fit(), X


def _frame(X):
    return X.iloc[:5]


BAD_INPUTS = [
    pytest.param(
        lambda X: _frame(X).assign(extra=1.0),
        ValueError,
        "Feature names unseen at fit time:\n- extra",
        id="DataFrame with an extra column",
    ),
    pytest.param(
        lambda X: X.iloc[:5].to_numpy()[:, :3],
        ValueError,
        "X has 3 features, but DataFreeDistillRegressor is expecting 5",
        id="array with 3 of 5 features",
    ),
    pytest.param(
        lambda X: _frame(X).mask(_frame(X) > 0),
        ValueError,
        "Input X contains NaN",
        id="NaN",
    ),
    pytest.param(
        lambda X: _frame(X).mask(_frame(X) > 0, np.inf),
        ValueError,
        "Input X contains infinity",
        id="inf",
    ),
    pytest.param(
        lambda X: _frame(X).astype(str).replace(r".*", "abc", regex=True),
        ValueError,
        "could not convert string to float",
        id="strings",
    ),
    pytest.param(
        lambda X: _frame(X).rename(columns={"x0": "age"}),
        ValueError,
        "The feature names should match those that were passed during fit",
        id="DataFrame with a wrong column name",
    ),
    pytest.param(
        lambda X: _frame(X)[COLUMNS[::-1]],
        ValueError,
        "The feature names should match those that were passed during fit",
        id="DataFrame with reordered columns",
    ),
    pytest.param(
        lambda X: X.iloc[:0],
        ValueError,
        r"Found array with 0 sample\(s\)",
        id="empty",
    ),
    pytest.param(
        lambda X: X.iloc[0].to_numpy(),
        ValueError,
        "Expected 2D array, got 1D array instead",
        id="1-D array",
    ),
    pytest.param(
        lambda X: _frame(X).to_numpy() + 1j,
        ValueError,
        "Complex data not supported",
        id="complex numbers",
    ),
]


# Arrays given to a distiller fitted with feature names: sklearn warns first.
@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
@pytest.mark.parametrize("method", ["predict", "score"])
@pytest.mark.parametrize("make_input, error, match", BAD_INPUTS)
def test_bad_input_to_predict_or_score_is_sklearns_usual_error(
    fitted, method, make_input, error, match
):
    distiller, X = fitted
    bad = make_input(X)
    call = getattr(distiller, method)
    with pytest.raises(error, match=match):
        call(bad) if method == "predict" else call(bad, np.zeros(len(bad)))


@pytest.mark.parametrize("method", ["predict", "score"])
def test_predict_or_score_before_fit_is_not_fitted_error(method):
    d = DataFreeDistillRegressor(SineTeacher())
    X = np.zeros((3, 5))
    with pytest.raises(NotFittedError, match="is not fitted yet"):
        d.predict(X) if method == "predict" else d.score(X, np.zeros(3))


def test_score_with_y_of_the_wrong_length_is_an_error(fitted):
    distiller, X = fitted
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        distiller.score(X.iloc[:5], np.zeros(4))


# -- reproducibility across processes ------------------------------------------------


def _fit_and_save(seed, path):
    """Fit with ``seed``; save the student's state dict as .npz (arrays, no pickle)."""
    box = {"low": -2 * np.ones(5), "high": 2 * np.ones(5)}
    d = DataFreeDistillRegressor(
        SineTeacher(),
        domain=box,
        max_queries=4000,
        round_size=1024,
        n_holdout=256,
        random_state=seed,
    ).fit()
    state = {k: v.numpy() for k, v in d.student_.module_.state_dict().items()}
    np.savez(path, **state)


def test_same_seed_gives_bit_identical_students_across_processes(tmp_path):
    out = run_python(
        "import sys\n"
        "from test_reliability import _fit_and_save\n"
        "_fit_and_save(0, sys.argv[1])\n",
        tmp_path / "other-process-0.npz",
    )
    assert out.returncode == 0, out.stderr
    _fit_and_save(0, tmp_path / "this-process-0.npz")
    _fit_and_save(1, tmp_path / "this-process-1.npz")

    def load(name):
        with np.load(tmp_path / f"{name}.npz") as f:
            return {k: f[k] for k in f.files}

    other, this, other_seed = (
        load("other-process-0"),
        load("this-process-0"),
        load("this-process-1"),
    )
    assert other.keys() == this.keys()
    for name in this:
        np.testing.assert_array_equal(other[name], this[name], err_msg=name)
    weights = [k for k in this if k.startswith("inner.")]
    assert all(not np.array_equal(this[k], other_seed[k]) for k in weights)


# -- memory: teacher calls and query synthesis stay chunked -----------------------


def test_teacher_calls_stay_chunked_whatever_the_budget():
    """A 500-feature teacher is never asked more than one round at a time."""
    teacher = SineTeacher(n_features=500)
    DataFreeDistillRegressor(
        teacher,
        domain={"low": -np.ones(500), "high": np.ones(500)},
        max_queries=12_000,
        round_size=1024,
        n_holdout=512,
        hidden_layer_sizes=(8,),
        random_state=0,
    ).fit()
    assert sum(teacher.calls) == 12_000
    assert max(teacher.calls) <= 1024


# -- security: nothing loads a pickle implicitly ----------------------------------

UNSAFE_LOADS = re.compile(
    r"pickle\.loads?\(|joblib\.load\(|cloudpickle|dill\.|allow_pickle=True|"
    r"torch\.load\((?![^)]*weights_only=True)"
)
# The explicit unsafe paths: the command line reads a pickled teacher only
# with --trust-pickle, after printing the risk (tested in its own tests).
EXPLICIT = {"_cli.py": ["torch.load(path, map_location=", "joblib.load(path)"]}


def test_the_package_never_loads_a_pickle_implicitly():
    package = TESTS.parent / "skdistill"
    found = {}
    for path in sorted(package.rglob("*.py")):
        for line in path.read_text().splitlines():
            if UNSAFE_LOADS.search(line):
                found.setdefault(path.name, []).append(line.strip())
    assert found.keys() <= EXPLICIT.keys(), found
    for name, lines in found.items():
        assert len(lines) == len(EXPLICIT[name]), lines
        assert all(any(e in line for line in lines) for e in EXPLICIT[name]), lines
        assert "trust_pickle" in (package / name).read_text()
