"""The memory planner: budgets, the estimate's shape, the largest chunk that fits, and refusal before any work."""

from __future__ import annotations

import dataclasses

import pytest

from zkdl.errors import ResourceError, ZkdlError
from zkdl.protocol.statement import Statement
from zkdl.quant import FixedPointParams
from zkdl.runs.planner import (
    MemoryBudgetError,
    check_budget,
    choose_chunk_steps,
    default_budget,
    estimate_peak_memory,
    parse_memory,
)


def _statement(widths=(64, 256, 256, 10), batch=64, steps=16, n_rows=1437, backend="lookup") -> Statement:
    return Statement(
        widths=tuple(widths),
        has_bias=(True,) * (len(widths) - 1),
        params=FixedPointParams().to_dict(),
        batch_size=batch,
        steps=steps,
        n_rows=n_rows,
        schedule_seed=None,
        range_backend=backend,
        generators_digest="",
    )


@pytest.mark.parametrize(
    "text, value",
    [("12G", 12 << 30), ("12GB", 12 << 30), ("2GiB", 2 << 30), ("512M", 512 << 20), ("1.5g", 3 << 29), ("4096", 4096)],
)
def test_parse_memory(text, value):
    assert parse_memory(text) == value


@pytest.mark.parametrize("bad", ["", "twelve", "12X", "-1G", "0", "1.2.3G"])
def test_parse_memory_rejects_nonsense_with_a_typed_error(bad):
    with pytest.raises(ZkdlError, match="memory"):
        parse_memory(bad)


def test_default_budget_is_a_fraction_of_what_is_available():
    assert 0 < default_budget() < 1 << 50


def test_estimate_grows_with_steps_width_and_backend():
    base = estimate_peak_memory(_statement(steps=4))
    assert estimate_peak_memory(_statement(steps=16)).total > base.total
    assert estimate_peak_memory(_statement(widths=(64, 512, 512, 10), steps=4)).total > base.total
    assert estimate_peak_memory(_statement(steps=4, backend="bits")).total > base.total
    assert base.total == sum(base.parts.values()) and base.working_phase in {
        "range check",
        "layer relations",
        "openings",
        "commit",
    }


def test_choose_chunk_steps_is_the_largest_that_fits():
    st = _statement(steps=256)
    assert choose_chunk_steps(st, 1 << 50) == 256
    budget = estimate_peak_memory(dataclasses.replace(st, steps=37)).total
    k = choose_chunk_steps(st, budget)
    assert k >= 37
    assert estimate_peak_memory(dataclasses.replace(st, steps=k)).total <= budget
    assert estimate_peak_memory(dataclasses.replace(st, steps=k + 1)).total > budget
    assert choose_chunk_steps(st, f"{budget}") == k  # a size string works too


def test_one_step_over_budget_is_refused_naming_budget_estimate_and_remedy():
    st = _statement(widths=(3072, 1024, 1024, 10), steps=4)
    one = estimate_peak_memory(dataclasses.replace(st, steps=1)).total
    with pytest.raises(MemoryBudgetError) as info:
        choose_chunk_steps(st, one - 1)
    err = info.value
    assert isinstance(err, ResourceError)
    assert err.budget == one - 1 and err.estimate == one
    msg = str(err)
    assert "one training step" in msg and "budget" in msg and "--memory" in msg and "narrower" in msg
    with pytest.raises(MemoryBudgetError, match="4 steps in one proof.*at most 1 step per proof"):
        check_budget(st, one)


def test_prove_refuses_before_training_when_over_budget(tmp_path, monkeypatch):
    """``prove_training(memory=...)`` and ``zkdl prove --memory`` refuse at once (nothing trained, nothing
    written), with the typed error and exit code 2."""
    from zkdl import api
    from zkdl.cli import main

    def no_training(*a, **k):
        raise AssertionError("training started despite the refusal")

    monkeypatch.setattr(api, "train_quantized", no_training)
    out = tmp_path / "run"
    with pytest.raises(MemoryBudgetError, match="budget of 1.0 MB"):
        api.prove_training(widths=[64, 16, 10], steps=2, batch_size=8, out_dir=out, memory="1000k")
    assert not out.exists()
    assert (
        main(
            [
                "prove",
                "--widths",
                "64,16,10",
                "--steps",
                "2",
                "--batch",
                "8",
                "--out",
                str(out),
                "--memory",
                "1M",
                "--quiet",
            ]
        )
        == 2
    )
    assert not out.exists()
    assert main(["prove", "--widths", "64,16,10", "--out", str(out), "--memory", "lots", "--quiet"]) == 2


def test_huge_statement_refused_before_any_work():
    """2^40 steps pass the no-wrap check but need 2^60 range-checked entries: the verifier's size check and the
    planner refuse at once with typed errors (no packing loop over 2^36 range tensors)."""
    from zkdl.errors import StatementMismatch
    from zkdl.protocol import training

    st = _statement(steps=1 << 40)
    with pytest.raises(StatementMismatch, match="too large"):
        training.generators_needed(st)
    with pytest.raises(ResourceError, match="too large"):
        estimate_peak_memory(st)
    k = choose_chunk_steps(st, "12G")  # the largest chunk that fits is found without packing the whole run
    assert 1 <= k < 1 << 20 and estimate_peak_memory(dataclasses.replace(st, steps=k)).total <= 12 << 30


def test_run_chunking_takes_the_planners_chunk_when_none_is_given():
    from zkdl.runs import chunking

    st = _statement(steps=64)
    budget = estimate_peak_memory(dataclasses.replace(st, steps=8)).total  # 8 steps fit exactly, 9 do not
    assert chunking.choose_chunk_steps(64, None, statement=st, memory=budget) == 8
    assert chunking.choose_chunk_steps(64, 4, statement=st, memory=budget) == 4  # an explicit size wins
    assert chunking.choose_chunk_steps(64) == 64  # no statement: one chunk
    with pytest.raises(MemoryBudgetError):
        chunking.choose_chunk_steps(64, None, statement=st, memory=1 << 20)


def test_a_run_without_chunk_steps_is_chunked_by_the_planner_and_says_so(tmp_path):
    """``prove_run`` with no chunk size and a budget that fits 2 of 4 steps: two chunks of 2, and the progress
    line names the planner's choice, the estimate per chunk and the budget."""
    import inspect

    from zkdl import api
    from zkdl.api import _setup_training, _TrainingArgs

    kw = dict(data="iris", widths=[4, 4, 3], batch_size=4, steps=4)
    defaults = {k: p.default for k, p in inspect.signature(api.prove_training).parameters.items()}
    args, _ = _TrainingArgs.split({**defaults, **kw})
    setup = _setup_training(args, say=lambda m: None)
    budget = estimate_peak_memory(dataclasses.replace(setup.st0, steps=2)).total
    said: list[str] = []
    res = api.prove_run(out_dir=tmp_path, **kw, workers=1, memory=budget, progress=said.append, verify_after=False)
    assert res.manifest.chunks == ((0, 2), (2, 4))
    line = next(m for m in said if m.startswith("chunks of 2 steps"))
    assert "the planner's choice" in line and f"budget {budget / 1e9:.2f} GB" in line
    assert api.verify_run(tmp_path, workers=1).valid
