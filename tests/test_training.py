import pytest
import torch

from skdistill._training import ReadyBatches, SyntheticQueryStream


class OneRound:
    """A stand-in for QueryRounds: one labelled round, then the budget is spent."""

    def __init__(self, n):
        self.labelled = (
            torch.randn(n, 3),
            torch.arange(n, dtype=torch.float32)[:, None],
        )
        self.calls = 0
        self.ran_out = False

    def __call__(self):
        self.calls += 1
        return self.labelled if self.calls == 1 else None


def _passes(batches, n_passes):
    rows = torch.cat([y for _, y in batches]).ravel()
    return rows.reshape(n_passes, -1)


def test_every_pass_replays_the_whole_round_in_a_new_order():
    rounds = OneRound(10)
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
    x, y = rounds.labelled
    for xb, yb in batches:
        torch.testing.assert_close(xb, x[yb.ravel().long()])
    assert rounds.calls == 1


def test_a_spent_budget_ends_the_fit_as_skorch_expects():
    rounds = OneRound(4)
    rounds.calls = 1  # its one round is used up
    stream = SyntheticQueryStream(rounds, batch_size=4)
    with pytest.raises(KeyboardInterrupt):
        list(ReadyBatches(stream))
    assert rounds.ran_out
