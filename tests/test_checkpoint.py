"""Checkpoints, warm start and resume: a fit goes on where it stopped.

- BAD_CHECKPOINTS: checkpoints that do not belong to the fit -> refused.
- Warm start: the fitted student goes on training on new queries.
- A killed fit resumes from its checkpoint to the same student, from safe
  formats only.
"""

import json
import os
import pickle
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_python
from faulty_teachers import (
    InterruptAt,
    NaNWhere,
    Returns,
    SineTeacher,
)
from test_reliability import BOX, TINY, _holdout_loss_now

from skdistill import (
    DataFreeDistillRegressor,
)
from skdistill._checkpoint import load_checkpoint
from skdistill.exceptions import FitInterruptedWarning

# -- checkpoints that do not belong to the fit -> refused -------------------------


class Payload:
    """Unpickling this runs code: a checkpoint must never be loaded with pickle."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.makedirs, (self.path,))


def _pickle_payload(folder):
    for state in Path(folder).glob("round-*/state.pt"):
        payload = Payload(Path(folder) / "payload-ran")
        state.write_bytes(pickle.dumps(payload, protocol=2))


BAD_CHECKPOINTS = [
    pytest.param(
        lambda d: d.set_params(max_queries=5000),
        None,
        ValueError,
        r"other values of \['max_queries'\]; resuming it would mix two",
        id="checkpoint of other parameters -> ValueError naming them",
    ),
    pytest.param(
        lambda d: d.set_params(teacher=NaNWhere(threshold=10.0, value=0.0)),
        None,
        ValueError,
        r"written for another teacher \(SineTeacher\)",
        id="checkpoint of another teacher -> ValueError",
    ),
    pytest.param(
        lambda d: d.set_params(teacher=SineTeacher(n_features=5, delay=1e-9)),
        None,
        None,
        None,
        id="checkpoint of the same teacher, new instance -> resumed",
    ),
    pytest.param(
        lambda d: d.set_params(teacher=Returns(lambda X: np.sin(X).sum(axis=1))),
        None,
        ValueError,
        r"written for another teacher",
        id="checkpoint of a teacher answering differently -> ValueError",
    ),
    pytest.param(
        lambda d: d,
        lambda X: X * 0.5,
        ValueError,
        r"written for another input domain \(loc differs; now 'fit\(X\)",
        id="checkpoint of another domain -> ValueError",
    ),
    pytest.param(
        lambda d: d.set_params(device="cpu", max_time=100.0),
        None,
        None,
        None,
        id="checkpoint with other device spelling and max_time -> resumed",
    ),
    pytest.param(
        _pickle_payload,
        None,
        pickle.UnpicklingError,
        "Weights only load failed",
        id="checkpoint file holding a pickle payload -> refused, never run",
    ),
]


@pytest.mark.parametrize("change, change_rows, error, match", BAD_CHECKPOINTS)
def test_checkpoint_that_does_not_belong_to_the_fit_is_refused(
    change, change_rows, error, match, tmp_path
):
    X = np.random.default_rng(0).uniform(-2, 2, (200, 5))
    d = DataFreeDistillRegressor(SineTeacher(), checkpoint_dir=tmp_path, **TINY)
    d.fit(X)
    before = d.history_[:, "holdout_loss"]
    if change is _pickle_payload:
        _pickle_payload(tmp_path)
        d = DataFreeDistillRegressor(SineTeacher(), checkpoint_dir=tmp_path, **TINY)
    else:
        change(d)
    rows = X if change_rows is None else change_rows(X)
    if error is None:  # resumed: the finished fit comes back as it was
        d.fit(rows)
        np.testing.assert_array_equal(d.history_[:, "holdout_loss"], before)
        return
    with pytest.raises(error, match=match):
        d.fit(rows)
    assert not (tmp_path / "payload-ran").exists()


# -- warm start ------------------------------------------------------------------


def test_warm_start_continues_an_interrupted_fit_on_new_queries():
    teacher = InterruptAt(call=6)
    d = DataFreeDistillRegressor(teacher, domain=BOX, query_strategy="gaussian", **TINY)
    with pytest.warns(FitInterruptedWarning):
        d.fit()
    n_rounds, n_queries = len(d.history_), d.n_teacher_queries_
    loss = _holdout_loss_now(d)
    holdout = d._holdout[0].clone()
    first_fit = np.array(teacher.first_rows[:-1])  # the last call was cut short

    # A learning rate of ~0 shows where training starts: from the interrupted
    # student's weights (a new student would score far worse).
    d.set_params(warm_start=True, max_queries=1500, learning_rate=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no interruption this time
        d.fit()
    assert d.history_[n_rounds, "holdout_loss"] == pytest.approx(loss, rel=1e-4)

    d.set_params(learning_rate=1e-2, max_queries=3000).fit()
    assert d.stop_reason_ == "max_queries"
    # History goes on: complete rounds of all three fits, numbered on.
    assert d.history_[:, "epoch"] == list(range(1, len(d.history_) + 1))
    assert len(d.history_) == n_rounds + 2 + 3
    assert d.n_teacher_queries_ == n_queries + 1500 + 3000
    assert d.history_[-1, "n_queries"] == d.n_teacher_queries_
    # The same hold-out queries, so scores compare; better than when interrupted.
    assert torch.equal(d._holdout[0], holdout)
    assert _holdout_loss_now(d) < loss
    assert _holdout_loss_now(d) == pytest.approx(min(d.history_[:, "holdout_loss"]))
    # New queries: the warm starts do not replay the first fit's.
    later = np.array(teacher.first_rows[len(first_fit) + 1 :])
    assert not (first_fit[:, None, :] == later[None, :, :]).all(-1).any()


def test_warm_start_on_other_rows_goes_on_from_the_same_student():
    rows = np.random.default_rng(0).uniform(-1, 1, size=(200, 5))
    d = DataFreeDistillRegressor(SineTeacher(), query_strategy="gaussian", **TINY)
    d.fit(rows)
    X = np.random.default_rng(1).uniform(-1, 1, size=(50, 5))
    before = d.predict(X)

    # Rows with another mean and scale make another domain; with a learning
    # rate of ~0, no round beats the first fit's best, which is given back.
    d.set_params(warm_start=True, max_queries=2048, learning_rate=1e-12)
    d.fit(3 * rows + 1)
    np.testing.assert_allclose(d.predict(X), before, rtol=1e-5, atol=1e-6)


def test_warm_start_before_any_fit_is_a_plain_fit():
    plain = DataFreeDistillRegressor(SineTeacher(), domain=BOX, **TINY).fit()
    warm = DataFreeDistillRegressor(
        SineTeacher(), domain=BOX, warm_start=True, **TINY
    ).fit()
    for a, b in zip(
        plain.student_.module_.parameters(), warm.student_.module_.parameters()
    ):
        assert torch.equal(a, b)


def test_warm_start_with_another_student_architecture_is_a_clear_error():
    d = DataFreeDistillRegressor(SineTeacher(), domain=BOX, **TINY).fit()
    d.set_params(warm_start=True, hidden_layer_sizes=(7,))
    with pytest.raises(ValueError, match="another architecture. Set warm_start=False"):
        d.fit()


# -- checkpoints: a killed fit resumes to the same student ------------------------

CHECKPOINTED = dict(
    domain=BOX, max_queries=12_000, round_size=1024, n_holdout=256, random_state=0
)


def test_killed_fit_resumes_from_its_checkpoint_to_the_same_student(tmp_path):
    folder = tmp_path / "checkpoints"
    kill_when = folder / "round-000002"
    child = run_python(
        "from faulty_teachers import SineTeacher\n"
        "from skdistill import DataFreeDistillRegressor\n"
        f"teacher = SineTeacher(kill_when={str(kill_when)!r})\n"
        "import numpy as np\n"
        "box = {'low': -2 * np.ones(5), 'high': 2 * np.ones(5)}\n"
        f"params = { ({k: v for k, v in CHECKPOINTED.items() if k != 'domain'})!r}\n"
        f"DataFreeDistillRegressor(teacher, checkpoint_dir={str(folder)!r}, "
        "domain=box, **params).fit()\n"
    )
    # Killed (SIGKILL, like kill -9) in round 3, after the second checkpoint.
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["round-000001", "round-000002"]

    resumed = DataFreeDistillRegressor(
        SineTeacher(), checkpoint_dir=folder, **CHECKPOINTED
    ).fit()
    uninterrupted = DataFreeDistillRegressor(SineTeacher(), **CHECKPOINTED).fit()

    # Every random generator, the optimizer, the learning-rate schedule and
    # the best round so far are restored, so the resumed fit is the same
    # computation (one CPU thread): the same student, bit for bit, not just
    # the same quality.
    assert resumed.stop_reason_ == "max_queries"
    np.testing.assert_array_equal(
        resumed.history_[:, "holdout_loss"], uninterrupted.history_[:, "holdout_loss"]
    )
    for name, value in uninterrupted.student_.module_.state_dict().items():
        assert torch.equal(resumed.student_.module_.state_dict()[name], value), name
    # The resumed fit asked only the probe again, to check the teacher.
    assert resumed.n_teacher_queries_ == uninterrupted.n_teacher_queries_ + 16


def test_a_checkpoint_of_another_format_is_refused_by_name(tmp_path):
    DataFreeDistillRegressor(
        SineTeacher(), domain=BOX, checkpoint_dir=tmp_path, **TINY
    ).fit()
    for meta_path in tmp_path.glob("round-*/meta.json"):
        meta = json.loads(meta_path.read_text())
        meta_path.write_text(json.dumps({**meta, "format": 1}))
    d = DataFreeDistillRegressor(
        SineTeacher(), domain=BOX, checkpoint_dir=tmp_path, **TINY
    )
    with pytest.raises(ValueError, match="has format 1; this version of skdistill"):
        d.fit()


def test_checkpoints_are_safe_formats_and_only_the_newest_two_are_kept(tmp_path):
    d = DataFreeDistillRegressor(
        SineTeacher(), domain=BOX, checkpoint_dir=tmp_path, **TINY
    ).fit()
    rounds = sorted(p.name for p in tmp_path.iterdir())
    assert rounds == [f"round-{n:06d}" for n in (len(d.history_) - 1, len(d.history_))]
    newest = tmp_path / rounds[-1]
    assert sorted(p.name for p in newest.iterdir()) == [
        "history.json",
        "meta.json",
        "state.pt",
    ]
    meta = json.loads((newest / "meta.json").read_text())
    assert meta["n_teacher_queries"] == d.n_teacher_queries_
    assert len(json.loads((newest / "history.json").read_text())) == len(d.history_)
    state = torch.load(newest / "state.pt", weights_only=True)  # no pickle needed
    # The bare module's weights: the standardisation is rebuilt from the domain
    # and the hold-out labels on resume.
    assert set(state["module"]) == set(d.student_.module_.inner.state_dict())
    assert load_checkpoint(tmp_path).folder == newest
    # The fitted estimator still pickles (the checkpoint callback lets go).
    pickle.loads(pickle.dumps(d))
