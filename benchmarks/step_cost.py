"""What one student step costs, and where a default fit's seconds go.

Part 1 times a 50-unit tanh student's training step (batch 256, fused Adam) on
synthetic batches, side by side and repeated: a plain PyTorch loop with
``torch.optim.Adam``, the same loop through ``StandardizedModule`` and
``StandardizedMSELoss`` at every step, the ``StudentNet`` that ``fit`` trains
(the bare module on rounds that ``SyntheticQueryStream`` standardised once,
through ``ReadyBatches``, in its lean loop), and skorch's
``NeuralNetRegressor`` fed the same way and the ways it was fed before (the
standardisation inside every step; a ``DataLoader`` as well).

Part 2 splits a default ``fit()`` of a paper teacher into teacher work
(queries, their labels and the gap ascent) and the rest (student steps,
hold-out scoring, bookkeeping).

Part 3 times the gather that shuffles each of a round's passes out of a full
replay window (8 rounds of 4,096 rows), ``x[rows]`` against
``x.index_select(0, rows)`` (what ``SyntheticQueryStream`` uses), alternating,
for rows of the paper's 21 features and of the 384-feature check.

Part 4 times one round's gap ascent (the default quarter of a round, 1,024
queries, 2 RMSprop steps through the teacher and a 50-unit student) on each
dataset's teacher, in float32 and in bfloat16 (``torch.autocast``, what
``BoundedGapQueries(ascent_precision="auto")`` uses on a CPU with native
bfloat16), alternating, and how close the two land.

Examples (the tables in ``results/step_cost.md`` and
``results/step_cost_highdim.md``)::

    python benchmarks/step_cost.py --data-dir ../shared/datasets \\
        --out benchmarks/results/step_cost
    python benchmarks/step_cost.py --data-dir ../shared/datasets \\
        --dataset highdim384 --parts 2 --out benchmarks/results/step_cost_highdim
    python benchmarks/step_cost.py --data-dir ../shared/datasets --parts 4 --repeats 11 \\
        --out benchmarks/results/ascent_cost
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from skorch import NeuralNetRegressor
from torch import nn
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).parent))
from protocol import DATASETS, teacher_for, write_markdown  # noqa: E402

import skdistill._queries as queries  # noqa: E402
import skdistill._training as training  # noqa: E402
from skdistill import (  # noqa: E402
    BoundedGapQueries,
    DataFreeDistillRegressor,
    InputDomain,
    QueryContext,
)
from skdistill._student import StandardizedModule, StandardizedMSELoss  # noqa: E402
from skdistill._teachers import as_teacher  # noqa: E402

N_FEATURES, BATCH, ROUND, PASSES = 21, 256, 4096, 8


class FixedRounds:
    """``n_rounds`` labelled rounds of random queries, as QueryRounds hands them out."""

    def __init__(self, n_rounds):
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(ROUND, N_FEATURES, generator=generator)
        self.y = torch.randn(ROUND, 1, generator=generator)
        self.left = n_rounds
        self.ran_out = False

    def __call__(self):
        if self.left == 0:
            return None
        self.left -= 1
        return self.x, self.y


def _mlp(n_features=N_FEATURES):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(n_features, 50), nn.Tanh(), nn.Linear(50, 1))


def _standardized(module):
    zeros, ones = torch.zeros(N_FEATURES), torch.ones(N_FEATURES)
    return StandardizedModule(module, zeros, ones, torch.zeros(1), torch.ones(1))


def _stream(n_rounds, units=None):
    return training.SyntheticQueryStream(
        FixedRounds(n_rounds), BATCH, PASSES, torch.Generator().manual_seed(0), units
    )


def plain_loop(n_rounds, standardized, optimizer_class=torch.optim.Adam):
    module = _standardized(_mlp()) if standardized else _mlp()
    loss_fn = StandardizedMSELoss(torch.ones(1)) if standardized else nn.MSELoss()
    optimizer = optimizer_class(module.parameters(), lr=1e-3, fused=True)
    start = time.perf_counter()
    for _ in range(n_rounds):
        for xb, yb in _stream(1):
            optimizer.zero_grad()
            loss = loss_fn(module(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()
    return time.perf_counter() - start


def skorch_net(
    n_rounds,
    standardized,
    iterator,
    net_class=NeuralNetRegressor,
    optimizer=torch.optim.Adam,
):
    net = net_class(
        _mlp(),
        optimizer=optimizer,
        optimizer__fused=True,
        lr=1e-3,
        max_epochs=n_rounds,
        train_split=None,
        iterator_train=iterator,
        iterator_train__batch_size=None,
        iterator_train__shuffle=False,
        verbose=0,
    )
    net.initialize()
    units = None
    if standardized == "per step":
        net.module_ = _standardized(net.module_)
        net.criterion_ = StandardizedMSELoss(torch.ones(1))
        net.initialize_optimizer()
    elif standardized == "per round":
        units = _standardized(net.module_)
    stream = _stream(n_rounds, units)
    start = time.perf_counter()
    net.partial_fit(stream)
    return time.perf_counter() - start


PATHS = {
    "plain torch loop": lambda n: plain_loop(n, False),
    "plain torch loop, standardised at every step": lambda n: plain_loop(n, True),
    "StudentNet, ReadyBatches, rounds standardised once (what fit runs)": (
        lambda n: skorch_net(n, "per round", training.ReadyBatches, training.StudentNet)
    ),
    "skorch, ReadyBatches, rounds standardised once (two fits ago)": lambda n: (
        skorch_net(n, "per round", training.ReadyBatches)
    ),
    "skorch, ReadyBatches, standardised at every step": lambda n: skorch_net(
        n, "per step", training.ReadyBatches
    ),
    "skorch, DataLoader, standardised at every step (the first fits)": lambda n: (
        skorch_net(n, "per step", DataLoader)
    ),
}


def step_costs(n_rounds, repeats):
    n_steps = n_rounds * PASSES * ROUND // BATCH
    times = {name: [] for name in PATHS}
    for _ in range(repeats):
        for name, run in PATHS.items():
            times[name].append(run(n_rounds) / n_steps * 1e3)
    base = statistics.median(times["plain torch loop"])
    lines = [
        f"Part 1: ms per student step (50 tanh units, {N_FEATURES} features, batch "
        f"{BATCH}, fused torch.optim.Adam), median of "
        f"{repeats} runs of {n_steps} steps, the paths alternating.\n",
        "| path | ms per step | vs plain loop |",
        "|---|---|---|",
    ]
    for name, values in times.items():
        median = statistics.median(values)
        lines.append(f"| {name} | {median:.3f} | {median / base:.2f} |")
    return "\n".join(lines)


def _timed(owner, method, totals, key):
    original = getattr(owner, method)

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - start

    setattr(owner, method, wrapper)


def fit_breakdown(data_dir, dataset, repeats):
    teacher, _ = teacher_for(data_dir, dataset, 1)
    totals = {"rounds": 0.0, "ascent": 0.0}
    _timed(training.QueryRounds, "__call__", totals, "rounds")
    _timed(queries.BoundedGapQueries, "_ascend", totals, "ascent")
    rows = []
    for _ in range(repeats):
        for key in totals:
            totals[key] = 0.0
        distiller = DataFreeDistillRegressor(teacher, random_state=1)
        start = time.perf_counter()
        distiller.fit()
        total = time.perf_counter() - start
        n_steps = sum(row["train_batch_count"] for row in distiller.history_)
        rows.append((total, totals["rounds"], totals["ascent"], n_steps))
    total, rounds, ascent, n_steps = (
        statistics.median(column) for column in zip(*rows)
    )
    rest = total - rounds
    return "\n".join(
        [
            f"\n\nPart 2: a default `fit()` of the {dataset} teacher (seed 1, 500 tanh "
            f"units), median of {repeats} fits, in seconds.\n",
            "| fit | teacher work: queries, labels, ascent | of which ascent | "
            "student steps and the rest | steps | ms per step, the rest |",
            "|---|---|---|---|---|---|",
            f"| {total:.2f} | {rounds:.2f} | {ascent:.2f} | {rest:.2f} | "
            f"{n_steps:.0f} | {rest / n_steps * 1e3:.3f} |",
        ]
    )


def gather_costs(repeats, widths=(N_FEATURES, 384), n_gathers=200):
    window = 8 * ROUND
    generator = torch.Generator().manual_seed(0)
    lines = [
        f"\n\nPart 3: ms per gather of a pass ({ROUND} rows in a new order out of a "
        f"full window of {window}), median of {repeats} runs of {n_gathers} "
        "gathers, the two alternating.\n",
        "| features | `x[rows]` | `x.index_select(0, rows)` | ratio |",
        "|---|---|---|---|",
    ]
    for width in widths:
        x = torch.randn(window, width, generator=generator)
        rows = [
            torch.randperm(window, generator=generator)[:ROUND]
            for _ in range(n_gathers)
        ]
        ways = {"index": lambda r: x[r], "index_select": lambda r: x.index_select(0, r)}
        assert torch.equal(x[rows[0]], x.index_select(0, rows[0]))  # the same rows
        times = {name: [] for name in ways}
        for _ in range(repeats):
            for name, gather in ways.items():
                start = time.perf_counter()
                for r in rows:
                    gather(r)
                times[name].append((time.perf_counter() - start) / n_gathers * 1e3)
        index, select = (statistics.median(times[name]) for name in ways)
        lines.append(f"| {width} | {index:.3f} | {select:.3f} | {index / select:.1f} |")
    return "\n".join(lines)


def ascent_costs(data_dir, repeats, n_rounds=20):
    lines = [
        f"\n\nPart 4: ms per round's gap ascent ({ROUND // 4} queries, 2 steps, "
        f"seed 1's teacher, a random 50-unit student), median of {repeats} runs of "
        f"{n_rounds} rounds, float32 and bfloat16 alternating; native bfloat16 on "
        f"this CPU: {queries._native_bfloat16('cpu')}. The last columns compare where "
        "the same queries end up: the median cosine between the two precisions' "
        "moves, and the mean squared gap after either's steps over that of the "
        "start.\n",
        "| dataset | features | float32 | bfloat16 | ratio | cosine of moves | "
        "gap gain float32 | gap gain bfloat16 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        module, _ = teacher_for(data_dir, dataset, 1)
        d = module[0].in_features
        context = QueryContext(
            teacher=as_teacher(module, device="cpu"),
            student=_mlp(d),
            domain=InputDomain.standard_normal(d),
            y_loc=torch.zeros(1, 1),
            y_scale=torch.ones(1, 1),
            generator=torch.Generator().manual_seed(0),
            rng=None,
            device=torch.device("cpu"),
        )
        strategy = BoundedGapQueries()
        strategy.start(context)
        z0 = torch.randn(ROUND // 4, d, generator=torch.Generator().manual_seed(1))
        dtypes = {"float32": None, "bfloat16": torch.bfloat16}
        times = {name: [] for name in dtypes}
        for _ in range(repeats):
            for name, dtype in dtypes.items():
                strategy._ascend_from(z0, context, dtype)  # warm
                start = time.perf_counter()
                for _ in range(n_rounds):
                    strategy._ascend_from(z0, context, dtype)
                times[name].append((time.perf_counter() - start) / n_rounds * 1e3)
        ends = {
            name: strategy._ascend_from(z0, context, dt) for name, dt in dtypes.items()
        }
        cosine = torch.nn.functional.cosine_similarity(
            ends["float32"] - z0, ends["bfloat16"] - z0
        )

        def gap(z):
            x = context.domain.to_input(z)
            with torch.no_grad():
                return float(context.gap(context.teacher.predict(x), x).mean())

        f32, b16 = (statistics.median(times[name]) for name in dtypes)
        lines.append(
            f"| {dataset} | {d} | {f32:.2f} | {b16:.2f} | {b16 / f32:.2f} | "
            f"{float(cosine.median()):.4f} | {gap(ends['float32']) / gap(z0):.3f} | "
            f"{gap(ends['bfloat16']) / gap(z0):.3f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default="../shared/datasets")
    parser.add_argument("--dataset", default="compactiv")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--parts",
        nargs="+",
        type=int,
        choices=[1, 2, 3, 4],
        default=[1, 2, 3, 4],
        help="parts to run (only part 2 depends on --dataset)",
    )
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    parts = {
        1: lambda: step_costs(args.rounds, args.repeats),
        2: lambda: fit_breakdown(
            args.data_dir, args.dataset, max(1, args.repeats // 2)
        ),
        3: lambda: gather_costs(args.repeats),
        4: lambda: ascent_costs(args.data_dir, args.repeats),
    }
    table = "".join(parts[part]() for part in sorted(set(args.parts))).lstrip("\n")
    print(table)
    if args.out:
        write_markdown(
            args.out,
            table,
            "One process, 1 torch thread, nothing else running on purpose.\n\n",
        )


if __name__ == "__main__":
    main()
