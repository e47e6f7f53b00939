import pytest
import torch
from conftest import make_context
from sklearn.datasets import make_friedman1
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback

from skdistill import (
    DataFreeDistillRegressor,
    InputDomain,
    MLPStudent,
    QueryStrategy,
)
from skdistill._training import (
    QueryRounds,
    ReadyBatches,
    StudentNet,
    SyntheticQueryStream,
)


class Rounds:
    """A stand-in for QueryRounds: ``n_rounds`` rounds of ``n_rows`` new queries.

    The queries are the rows of ``x``, in order, each labelled with its row
    number, so a batch shows which queries it took.
    """

    def __init__(self, n_rows, n_rounds=1):
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(n_rows * n_rounds, 3, generator=generator)
        self.n_rows, self.left, self.issued = n_rows, n_rounds, 0
        self.calls = 0
        self.ran_out = False

    def __call__(self):
        self.calls += 1
        if self.left == 0:
            return None
        self.left -= 1
        rows = torch.arange(self.issued, self.issued + self.n_rows)
        self.issued += self.n_rows
        return self.x[rows], rows[:, None].float()


def _passes(batches, n_passes):
    rows = torch.cat([y for _, y in batches]).ravel()
    return rows.reshape(n_passes, -1)


def test_every_pass_replays_the_whole_round_in_a_new_order():
    rounds = Rounds(10)
    stream = SyntheticQueryStream(
        rounds, batch_size=4, n_passes=3, generator=torch.Generator().manual_seed(0)
    )
    batches = list(ReadyBatches(stream, batch_size=None, shuffle=False))

    # 3 passes of batches of 4, 4 and 2 rows; each query once per pass.
    assert [len(y) for _, y in batches] == [4, 4, 2] * 3
    passes = _passes(batches, 3)
    for order in passes:
        assert sorted(order.tolist()) == list(range(10))
    assert not torch.equal(passes[0], passes[1])
    # Inputs travel with their labels.
    for xb, yb in batches:
        torch.testing.assert_close(xb, rounds.x[yb.ravel().long()])
    assert rounds.calls == 1


def _round_rows(stream, n_passes):
    """The query numbers of one round's batches, pass by pass."""
    batches = list(ReadyBatches(stream))
    for xb, yb in batches:  # inputs travel with their labels
        assert torch.equal(xb, stream.rounds.x[yb.ravel().long()])
    return _passes(batches, n_passes).long()


def test_a_round_draws_its_passes_from_the_replay_window():
    # A window of 3 rounds of 4 queries; 3 passes of 4 rows per round.
    stream = SyntheticQueryStream(
        Rounds(4, 5),
        batch_size=3,
        n_passes=3,
        generator=torch.Generator().manual_seed(0),
        window=12,
    )
    # Round 1 is alone in the window: each pass is the round, reshuffled.
    first = _round_rows(stream, 3)
    for order in first:
        assert sorted(order.tolist()) == [0, 1, 2, 3]
    # Round 2 joins it: its 12 rows come from rounds 1 and 2, each of the 8
    # queries once before any is drawn again.
    second = _round_rows(stream, 3).ravel().tolist()
    assert sorted(second[:8]) == list(range(8))
    assert set(second) == set(range(8))
    # From round 3 on the window is full: every query of the latest 3 rounds
    # exactly once per round, in batches of 3, 1 (a pass is a round's size).
    third = _round_rows(stream, 3).ravel().tolist()
    assert sorted(third) == list(range(12))
    # Round 4 overwrites round 1, the oldest.
    fourth = _round_rows(stream, 3).ravel().tolist()
    assert sorted(fourth) == list(range(4, 16))
    assert stream.n_filled_ == 12 and stream.position_ == 4


def test_a_window_no_larger_than_a_round_is_the_round_alone():
    def rows(window):
        stream = SyntheticQueryStream(
            Rounds(4, 2),
            batch_size=4,
            n_passes=2,
            generator=torch.Generator().manual_seed(0),
            window=window,
        )
        return [_round_rows(stream, 2) for _ in range(2)]

    alone = rows(None)
    assert torch.equal(alone[1].sort(dim=1).values, torch.arange(4, 8).repeat(2, 1))
    for window in (1, 4):
        for ours, theirs in zip(rows(window), alone):
            assert torch.equal(ours, theirs)


def test_a_saved_window_continues_the_stream_as_if_never_stopped():
    def stream(rounds):
        return SyntheticQueryStream(
            rounds, batch_size=2, n_passes=2, generator=torch.Generator(), window=10
        )

    whole = stream(Rounds(4, 6))
    whole.generator.manual_seed(0)
    expected = [_round_rows(whole, 2) for _ in range(6)]

    before = stream(Rounds(4, 6))
    before.generator.manual_seed(0)
    got = [_round_rows(before, 2) for _ in range(3)]  # a partly wrapped ring
    saved, generator_state = before.window_state(), before.generator.get_state()
    rounds = before.rounds
    after = stream(rounds)
    after.load_window_state(saved, torch.device("cpu"))
    after.generator.set_state(generator_state)
    got += [_round_rows(after, 2) for _ in range(3)]
    for ours, theirs in zip(got, expected):
        assert torch.equal(ours, theirs)
    assert stream(Rounds(4, 1)).window_state() is None  # nothing yet


def test_queries_labelled_before_the_rounds_join_the_first_round_only():
    for window in (None, 12):
        rounds = Rounds(4, 2)
        initial = (torch.randn(2, 3), torch.tensor([[-1.0], [-2.0]]))
        stream = SyntheticQueryStream(
            rounds,
            batch_size=3,
            n_passes=3,
            generator=torch.Generator().manual_seed(0),
            window=window,
            initial=initial,
        )
        batches = list(ReadyBatches(stream))
        # Round 1 has 4 + 2 rows: 3 passes of 6, each row once per pass.
        for order in _passes(batches, 3):
            assert sorted(order.tolist()) == [-2, -1, 0, 1, 2, 3]
        for xb, yb in batches:  # inputs travel with their labels
            for x, y in zip(xb, yb.ravel().long().tolist()):
                expected = initial[0][-y - 1] if y < 0 else rounds.x[y]
                assert torch.equal(x, expected)
        second = sorted(
            torch.cat([y for _, y in ReadyBatches(stream)]).ravel().tolist()
        )
        if window is None:  # the round alone: the initial rows are gone
            assert second == [4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7]
        else:  # the window holds them: 12 draws from its 10 rows
            assert set(second) == {-2, -1, *range(8)}


def test_a_spent_budget_ends_the_fit_as_skorch_expects():
    rounds = Rounds(4, n_rounds=0)  # the budget is spent
    stream = SyntheticQueryStream(rounds, batch_size=4)
    with pytest.raises(KeyboardInterrupt):
        list(ReadyBatches(stream))
    assert rounds.ran_out


def _mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    )


def _net(cls, n_rounds=3, **kwargs):
    net = cls(
        _mlp(),
        optimizer=torch.optim.Adam,
        lr=1e-2,
        max_epochs=n_rounds,
        train_split=None,
        iterator_train=ReadyBatches,
        verbose=0,
        **kwargs,
    )
    stream = SyntheticQueryStream(
        Rounds(64, n_rounds), batch_size=16, n_passes=2, generator=torch.Generator()
    )
    stream.generator.manual_seed(0)
    return net.partial_fit(stream)


def test_the_student_net_trains_exactly_as_skorch_does(monkeypatch):
    skorch_steps = []
    skorch_step = NeuralNetRegressor.train_step_single

    def counted(net, batch, **fit_params):
        skorch_steps.append(type(net))
        return skorch_step(net, batch, **fit_params)

    monkeypatch.setattr(NeuralNetRegressor, "train_step_single", counted)
    lean, reference = _net(StudentNet), _net(NeuralNetRegressor)

    # Only the reference went through skorch's step; the lean loop has its own.
    assert skorch_steps == [NeuralNetRegressor] * 24

    for ours, theirs in zip(lean.module_.parameters(), reference.module_.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    assert lean.history[:, "train_loss"] == reference.history[:, "train_loss"]
    assert lean.history[:, "batches", :, "train_batch_size"] == [[16] * 8] * 3
    assert lean.history[:, "train_batch_count"] == [8, 8, 8]


class CountBatchHooks(Callback):
    def initialize(self):
        self.calls = {"begin": 0, "grad": 0, "end": 0, "losses": []}
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        assert training and len(batch) == 2
        self.calls["begin"] += 1

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs):
        grads = [p.grad for _, p in named_parameters]
        assert all(g is not None for g in grads)
        self.calls["grad"] += 1

    def on_batch_end(self, net, batch=None, training=False, loss=None, **kwargs):
        self.calls["losses"].append(loss.item())
        self.calls["end"] += 1


class FreezeFirstLayer(Callback):
    """Zero the first layer's gradients before each optimizer step."""

    def on_grad_computed(self, net, named_parameters, **kwargs):
        for name, parameter in named_parameters:
            if name.startswith("0."):
                parameter.grad.zero_()


def test_the_student_net_calls_every_batch_hook_a_callback_defines():
    counter = CountBatchHooks()
    net = _net(
        StudentNet,
        callbacks=[("count", counter), ("freeze", FreezeFirstLayer())],
    )

    assert counter.calls["begin"] == counter.calls["grad"] == counter.calls["end"] == 24
    recorded = net.history[:, "batches", :, "train_loss"]
    assert counter.calls["losses"] == [loss for epoch in recorded for loss in epoch]
    # on_grad_computed runs between backward and the optimizer step: Adam leaves
    # the first layer where it started, and trains the last.
    initial = _mlp()
    assert torch.equal(net.module_[0].weight, initial[0].weight)
    assert not torch.equal(net.module_[2].weight, initial[2].weight)


def test_a_student_net_subclass_with_its_own_step_runs_skorchs_loop():
    class Counted(StudentNet):
        steps = 0

        def train_step_single(self, batch, **fit_params):
            Counted.steps += 1
            return super().train_step_single(batch, **fit_params)

    net = _net(Counted)

    assert Counted.steps == 24
    assert net.history[:, "train_batch_count"] == [8, 8, 8]


def test_a_distilled_student_net_fine_tunes_on_real_rows_with_skorch_loop():
    X, y = make_friedman1(n_samples=300, random_state=0)
    X, y = X.astype("float32"), y.astype("float32").reshape(-1, 1)
    # Fitted on a few rows, so that the rows have more to teach its student
    # (the linear student of a linear teacher is the teacher).
    teacher = LinearRegression().fit(X[:50], y[:50])
    distiller = DataFreeDistillRegressor(
        teacher, max_queries=8192, round_size=2048, random_state=0
    ).fit(X)
    student = distiller.student_
    assert isinstance(student, StudentNet)
    before = mean_squared_error(y, student.predict(X))

    student.set_params(train_split=None, max_epochs=5, lr=1e-3)
    student.partial_fit(X, y)

    assert mean_squared_error(y, student.predict(X)) < before
    assert len(student.history) == len(distiller.history_)


def test_a_student_net_given_as_student_keeps_its_callbacks_in_the_fit():
    X, y = make_friedman1(n_samples=200, random_state=0)
    teacher = LinearRegression().fit(X, y)
    counter = CountBatchHooks()
    student = StudentNet(
        MLPStudent,
        module__n_features=10,
        module__hidden_layer_sizes=(8,),
        callbacks=[("count", counter)],
    )
    distiller = DataFreeDistillRegressor(
        teacher, student=student, max_queries=4096, round_size=1024, random_state=0
    ).fit(X)

    assert isinstance(distiller.student_, StudentNet)
    n_steps = sum(distiller.history_[:, "train_batch_count"])
    fitted_counter = dict(distiller.student_.callbacks_)["count"]
    assert fitted_counter.calls["end"] == fitted_counter.calls["grad"] == n_steps > 0


class _Queries(QueryStrategy):
    """Hands out fixed queries: whatever a (buggy or extreme) strategy makes."""

    def __init__(self, x=None):
        self.x = x

    def generate(self, n, context):
        return self.x[:n]


def _rounds(x, n_features=3):
    module = torch.nn.Linear(n_features, 1)
    torch.nn.init.zeros_(module.weight)  # finite answers, even to huge queries
    context = make_context(
        InputDomain.standard_normal(n_features),
        teacher=module,
        student=torch.nn.Linear(n_features, 1),
    )
    return QueryRounds(_Queries(x), context, round_size=4, budget=4)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_strategy_that_makes_non_finite_queries_is_stopped(bad):
    x = torch.zeros(4, 3)
    x[2, 1] = bad
    with pytest.raises(RuntimeError, match="made non-finite queries"):
        _rounds(x)()


def test_huge_but_finite_queries_are_not_mistaken_for_non_finite():
    # Their sum overflows to inf; each value is still finite.
    x = torch.full((4, 3), 3e38)
    queries, labels = _rounds(x)()
    assert torch.equal(queries, x)
