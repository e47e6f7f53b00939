import numpy as np
import pytest
import torch
from conftest import make_mlp
from torch import nn

from skdistill._teachers import SklearnTeacher, TorchTeacher, as_teacher


def test_torch_teacher_feature_count_comes_from_its_first_linear_layer():
    teacher = as_teacher(make_mlp(n_features=7))
    assert isinstance(teacher, TorchTeacher) and teacher.differentiable
    assert teacher.n_features == 7


def test_teacher_counts_queries_and_returns_2d_float32(forest):
    teacher = as_teacher(forest)
    assert isinstance(teacher, SklearnTeacher) and not teacher.differentiable
    y = teacher.predict(torch.rand(123, 10))
    assert y.shape == (123, 1) and y.dtype == torch.float32
    assert teacher.output_1d is True
    teacher.predict(torch.rand(7, 10))
    assert teacher.n_queries == 130


def test_black_box_teacher_is_called_in_large_chunks(forest):
    calls = []

    class Counting:
        n_features_in_ = 10

        def predict(self, X):
            calls.append(len(X))
            return forest.predict(X)

    teacher = SklearnTeacher(Counting(), 10, chunk_size=1000)
    teacher.predict(torch.rand(2500, 10))
    assert calls == [1000, 1000, 500]


@pytest.mark.parametrize(
    "output, error, match",
    [
        (lambda X: np.zeros((len(X), 2, 2)), ValueError, "shape"),
        (lambda X: np.zeros(len(X) - 1), ValueError, "predictions for"),
        (lambda X: np.array(["a"] * len(X)), TypeError, "real numbers"),
    ],
    ids=["3-d", "too-few", "strings"],
)
def test_malformed_teacher_output_is_a_clear_error(output, error, match):
    class Bad:
        n_features_in_ = 3

        def predict(self, X):
            return output(X)

    with pytest.raises(error, match=match):
        as_teacher(Bad()).predict(torch.zeros(5, 3))


def test_teacher_exceptions_are_re_raised_with_context():
    class Picky:
        n_features_in_ = 2

        def predict(self, X):
            raise ValueError("Input contains negative values")

    with pytest.raises(RuntimeError, match="set the `domain` parameter") as info:
        as_teacher(Picky()).predict(torch.randn(4, 2))
    assert isinstance(info.value.__cause__, ValueError)


def test_object_without_predict_is_a_type_error():
    with pytest.raises(TypeError, match="no predict method"):
        as_teacher(object())


def test_torch_teacher_gradients_flow_to_inputs_only():
    module = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    teacher = as_teacher(module)
    x = torch.randn(5, 3, requires_grad=True)
    (grad,) = torch.autograd.grad(teacher(x).sum(), x)
    assert grad.abs().sum() > 0
    assert all(p.grad is None for p in module.parameters())
