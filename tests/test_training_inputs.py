"""Training inputs: balancing the sources of a multi-folder data set, and the plan the flags resolve into."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset, WeightedRandomSampler

from asl_hf.training import TrainingPlan, parse_args
from asl_hf.training.inputs import TrainingData, source_weights, with_balance
from asl_hf.training.loop import data_loaders


def test_each_source_weighs_the_same_whatever_its_size():
    sources = torch.tensor([0] * 30 + [1] * 10 + [2] * 5)
    weights = source_weights(sources)
    totals = [float(weights[sources == s].sum()) for s in range(3)]
    assert totals == pytest.approx([1.0, 1.0, 1.0])


def test_balanced_loader_draws_the_sources_about_equally():
    data = TrainingData(TensorDataset(torch.arange(400)), {}, torch.nn.Identity(), "test", 0, train_collate=lambda b: torch.stack([x[0] for x in b]))
    sources = torch.tensor([0] * 360 + [1] * 40)
    inputs = TrainingPlan.from_args(parse_args(["--model", "landmarks", "--output_dir", "x"]), []).inputs
    assert inputs.balance_sources  # the landmark model's default
    loader, _ = data_loaders(with_balance(data, inputs, sources), inputs, seed=0)
    assert isinstance(loader.sampler, WeightedRandomSampler)
    drawn = torch.cat([batch for _ in range(5) for batch in loader])
    share = float((drawn >= 360).float().mean())  # 2,000 draws: the small source is half of them, give or take 4 SD
    assert abs(share - 0.5) < 4 * (0.25 / len(drawn)) ** 0.5, share


def test_pixel_models_shuffle_uniformly_unless_asked():
    plan = TrainingPlan.from_args(parse_args(["--model", "cnn", "--output_dir", "x"]), [])
    assert not plan.inputs.balance_sources
    data = TrainingData(TensorDataset(torch.arange(10)), {}, torch.nn.Identity(), "test", 0)
    assert with_balance(data, plan.inputs, torch.tensor([0] * 5 + [1] * 5)).train_weights is None
    asked = TrainingPlan.from_args(parse_args(["--model", "cnn", "--balance_sources", "--output_dir", "x"]), []).inputs
    assert with_balance(data, asked, torch.tensor([0] * 5 + [1] * 5)).train_weights is not None
    one_source = TrainingData(TensorDataset(torch.arange(10)), {}, torch.nn.Identity(), "test", 0)
    assert with_balance(one_source, asked, torch.zeros(10, dtype=torch.long)).train_weights is None


def test_the_plan_hands_each_stage_its_part():
    args = parse_args(["--model", "mobilenetv2", "--train_dir", "a", "b", "--split_by", "group", "--output_dir", "out",
                       "--hub_token", "secret", "--finetune_epochs", "3", "--no_progress"])
    plan = TrainingPlan.from_args(args, ["--hub_token", "secret"])
    assert plan.data.train_dirs == ("a", "b") and plan.data.split_by == "group" and plan.data.token == "secret"
    assert plan.schedule.finetune_epochs == 3 and plan.schedule.epochs == 2 and not plan.run.show_progress
    assert "hub_token" not in plan.recorded_args and "secret" not in plan.command and "***" in plan.command
    assert "secret" not in repr(plan.data) and "secret" not in repr(plan.model)
