"""Each strategy gets its own training budget: registry defaults, overridable in the config."""

from __future__ import annotations

from clinprompt.registry import STRATEGY_BUDGETS
from clinprompt.settings import cell_setup
from clinprompt.study import Cell


def settings_of(strategy: str, training: dict):
    cell = Cell("drug_ade", "minilm", strategy, 0 if strategy in ("finetune", "hard") else 4,
                "all", "MIMIC", 3)  # fmt: skip
    return cell_setup({"training": training}, cell)[1].train


def test_frozen_prompts_train_longer_with_larger_head_rates_by_default():
    training = {"epochs": 4, "lr_head": 1e-3, "lr_prompt": 1e-2}
    soft, frozen = settings_of("soft", training), settings_of("soft-frozen", training)
    budget = STRATEGY_BUDGETS["soft-frozen"]
    assert (soft.epochs, soft.lr_head, soft.lr_prompt) == (4, 1e-3, 1e-2)
    assert frozen.epochs == round(4 * budget.epochs_factor) > soft.epochs
    assert frozen.lr_head == 1e-3 * budget.lr_head_factor > soft.lr_head
    assert frozen.patience == budget.patience and soft.patience == STRATEGY_BUDGETS["soft"].patience
    assert frozen.seed == soft.seed == 3


def test_config_sets_a_strategy_budget_absolutely():
    training = {"epochs": 4, "patience": None, "strategies": {"soft-frozen": {"epochs": 7}}}
    assert settings_of("soft-frozen", training).epochs == 7
    assert settings_of("soft-frozen", training).patience is None  # the training block's
    assert settings_of("hard", training).epochs == 4
    assert settings_of("finetune", {"strategies": {"finetune": {"patience": 2}}}).patience == 2


def test_a_dataset_overrides_the_training_block_for_its_cells_only():
    config = {
        "training": {"epochs": 4, "negative_ratio": 0.5,
                     "strategies": {"hard": {"epochs": 3, "lr_head": 1e-3}}},
        "datasets": {"sdoh": {"training": {"epochs": 6, "negative_ratio": 0.25,
                                           "strategies": {"hard": {"epochs": 5}}}}},
    }  # fmt: skip

    def settings(dataset: str, strategy: str):
        return cell_setup(config, Cell(dataset, "minilm", strategy, 0, "all", "MIMIC", 1))[1]

    assert settings("drug_ade", "finetune").train.epochs == 4
    assert settings("drug_ade", "hard").train.epochs == 3
    assert settings("drug_ade", "hard").negative_ratio == 0.5
    sdoh = settings("sdoh", "hard")
    assert (sdoh.train.epochs, sdoh.train.lr_head, sdoh.negative_ratio) == (5, 1e-3, 0.25)
    assert settings("sdoh", "finetune").train.epochs == 6
    assert config["training"]["strategies"]["hard"]["epochs"] == 3  # the config is untouched


def test_negatives_and_boundary_weight_may_differ_per_strategy():
    own = {"finetune": {"negative_ratio": 1.0, "epochs": 2}}
    config = {"training": {"negative_ratio": 0.25, "positive_weight": 5.0, "strategies": own}}

    def settings(strategy: str):
        return cell_setup(config, Cell("drug_ade", "minilm", strategy, 0, "all", "MIMIC", 1))[1]

    finetune, hard = settings("finetune"), settings("hard")
    assert (finetune.negative_ratio, finetune.train.epochs) == (1.0, 2)
    assert (hard.negative_ratio, hard.positive_weight) == (0.25, 5.0)
