"""``benchmarks/learning_speed.py``'s recipe names keep meaning what their result files measured,
and ``--recipe fast`` (``TrainConfig.fast()``) is the measured winner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import load_script

from blurvid.train.config import TrainConfig

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def learning_speed():
    return load_script(BENCH / "learning_speed.py", "learning_speed")


RESULTS = sorted((BENCH / "results").glob("learning_speed_*.json"))


@pytest.mark.parametrize("path", RESULTS, ids=[p.stem for p in RESULTS])
def test_each_recorded_recipe_still_builds_the_config_it_measured(path, learning_speed):
    record = json.loads(path.read_text())
    recorded = TrainConfig.from_dict(record["config"])
    built = learning_speed.build_config(record["recipe"], recorded.steps, recorded.batch_size)
    built = built.replace(data=recorded.data, bank_size=recorded.bank_size)
    assert built == recorded, record["recipe"]


def test_recipe_fast_is_the_benchmark_winner(learning_speed):
    fast = learning_speed.build_config("fast", 9000, 8)
    winner = learning_speed.build_config("centre10-deep-ema-kaiming", 9000, 8)
    assert fast == winner
    # and it is what `blurvid train --recipe fast` trains (the benchmark only switches the
    # ramped-in difference/flow/adversarial terms off)
    cli = TrainConfig.fast()
    assert (cli.generator, cli.central_weight, cli.ema_decay) == (
        winner.generator, winner.central_weight, winner.ema_decay,
    )  # fmt: skip
    assert cli.generator.init == "kaiming" and cli.generator.middle_blocks > 1
