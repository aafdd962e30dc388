"""The built-in studies of the five source papers, declared as data.

Every study selects on a validation split carved from the training images (the first 10 %,
or the first 5,000 where the paper held those out); the test set gives the final number only.
``fmnist_dnn_hparams`` stages before their own use the framework defaults (Keras ``Dense``:
linear activation, glorot_uniform; ``compile``: rmsprop; ``fit``: batch 32) and, as in the
paper's greedy chain, each stage inherits the winner of the stages before it (measured here;
the paper's winner when the upstream study has no results yet). The chain starts from the
paper's architecture 512-128-32 so that tables 2-6 compare like with like.
"""

from __future__ import annotations

from dataclasses import replace

from bench.studies.registry import Factor, Registry, Stage, Study
from bench.vocab import ACTIVATIONS, INITIALIZERS, KERAS2_LEARNING_RATES

REGISTRY = Registry()
DNN = "fmnist_dnn_hparams"
DNN_BASE = {"dataset": "fashion_mnist", "model": "mlp_512_128_32", "epochs": 5}
CURVE_EPOCHS = 20  # figure 2 of fmnist_dnn_hparams: curves over 20 epochs; tables at epoch 5


def _dnn_optimizer(name: str) -> dict:
    level = {"label": name, "optimizer": name}
    if name in KERAS2_LEARNING_RATES:
        level["learning_rate"] = KERAS2_LEARNING_RATES[name]
    return level


REGISTRY.add(Study(
    name="optimizers_mlp",
    title="Four optimizers on a Fashion-MNIST MLP 300-100",
    per_class=True,
    source="fmnist_mlp_optimizers",
    paper_table="classification_report",
    base={"dataset": "fashion_mnist", "model": "mlp_300_100", "epochs": 30,
          "validation": "holdout:5000"},
    factors=(Factor("optimizer", ("sgd", "momentum", "rmsprop", "adam")),),
    description="55k train / first 5k as validation / 10k test, Keras default learning rates.",
    claims=(
        {"id": "mlp_rmsprop_overfits", "kind": "overfits", "level": "rmsprop",
         "text": "RMSprop overfits by 30 epochs: its validation loss rises in the second half "
         "of training."},
        {"id": "mlp_adam_overfits", "kind": "overfits", "level": "adam",
         "text": "Adam overfits by 30 epochs: its validation loss rises in the second half of "
         "training."}),
))

REGISTRY.add(Study(
    name="architecture",
    title="Hidden layers: the pyramid growing search",
    source=DNN,
    paper_table="table1_architecture",
    base={**DNN_BASE, "model": "mlp_growing", "arch": {"kind": "mlp", "hidden": []}},
    stages=(
        Stage("layer1_units", tuple(2**n for n in range(1, 10)), paper_winner=512),
        Stage("layer2_units", (64, 128, 256, 512), paper_winner=128),
        Stage("layer3_units", (16, 32, 64, 128), paper_winner=32),
        Stage("layer4_units", (16,)),
    ),
    description="Layer 1 grows 2..512 units; each next layer is added on the best network so far.",
    question="Hidden layers (units per layer)",
))

REGISTRY.add(Study(
    name="initializers",
    title="Weight initializers",
    source=DNN,
    paper_table="table2_initializers",
    base={**DNN_BASE, "epochs": CURVE_EPOCHS},
    factors=(Factor("initializer", INITIALIZERS),),
    report_epoch=5,
    question="Weight initializer",
    claims=({"id": "dnn_best_initializer", "kind": "best_level", "level": "he_normal",
             "text": "The best weight initializer is he_normal."},),
))

REGISTRY.add(Study(
    name="activations",
    title="Activation functions",
    source=DNN,
    paper_table="table3_activations",
    base={**DNN_BASE, "epochs": CURVE_EPOCHS},
    factors=(Factor("activation", ACTIVATIONS),),
    inherits={"initializers": "he_normal"},
    report_epoch=5,
    question="Activation",
    claims=({"id": "dnn_best_activation", "kind": "best_level", "level": "selu",
             "text": "The best activation is selu."},),
))

REGISTRY.add(Study(
    name="optimizers",
    title="Optimizers (Keras 2 default learning rates, as the paper ran)",
    source=DNN,
    paper_table="table4_optimizers",
    base={**DNN_BASE, "epochs": CURVE_EPOCHS},
    factors=(Factor("optimizer", tuple(_dnn_optimizer(o) for o in (
        "sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"))),),
    inherits={"initializers": "he_normal", "activations": "selu"},
    report_epoch=5,
    question="Optimizer (at the Keras 2 default learning rates)",
    claims=(
        {"id": "dnn_best_optimizer", "kind": "best_level", "level": "adamax",
         "text": "The best optimizer is adamax."},
        {"id": "dnn_twig", "kind": "rank_stable", "early": 5, "late": 20,
         "studies": ["initializers", "activations", "optimizers"],
         "text": "Hyper-parameters chosen at 5 epochs stay the best at 20 epochs."}),
))

REGISTRY.add(Study(
    name="optimizers_lr",
    title="Optimizers with a tuned learning rate (a fair ranking)",
    source=DNN,
    paper_table=None,
    base=DNN_BASE,
    factors=(
        Factor("optimizer", ("sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam")),
        Factor("learning_rate", (1e-4, 1e-3, 1e-2, 1e-1)),
    ),
    inherits={"initializers": "he_normal", "activations": "selu"},
    description="Each optimizer on a log grid of learning rates; the site ranks them by their "
    "best rate and by their default rate.",
    question="Optimizer (with its learning rate)",
))

REGISTRY.add(Study(
    name="batch_size",
    title="Batch size",
    source=DNN,
    paper_table="table5_batch_size",
    base=DNN_BASE,
    factors=(Factor("batch_size", (None, 512, 256, 128, 64, 32, 16)),),
    inherits={"initializers": "he_normal", "activations": "selu", "optimizers": "adamax"},
    aliases={"None": "32"},  # Keras' default batch: bit-identical to 32 in every seed
    question="Batch size",
    claims=({"id": "dnn_batch_128", "kind": "no_gain_past", "level": "128",
             "smaller": ["64", "32", "16"], "text": "Batches smaller than 128 bring no gain."},),
))

REGISTRY.add(Study(
    name="epochs",
    title="Number of epochs",
    source=DNN,
    paper_table="table6_epochs",
    base={**DNN_BASE, "epochs": 50},
    curve=(5, 10, 20, 30, 50),
    inherits={"initializers": "he_normal", "activations": "selu", "optimizers": "adamax",
              "batch_size": "128"},
    description="One 50-epoch run per seed; the test accuracy after e epochs is read off its "
    "per-epoch curve (constant learning rate, evaluation every epoch: the same as a run of e "
    "epochs with the same seed).",
    question="Epochs",
    claims=({"id": "dnn_best_epochs", "kind": "best_level", "level": "20",
             "text": "20 epochs give the best accuracy."},),
))

#: Tables 3-6 of fmnist_dnn_hparams were measured on the paper's own winners upstream
#: (he_normal, selu, adamax, batch 128); the chain above inherits ours. Each stage is also run
#: on the paper's published base, as a labelled variant with the same seeds, so that the
#: paper's numbers have a like-for-like counterpart.
PAPER_BASE_SUFFIX = "_paper_base"
for _name in ("activations", "optimizers", "batch_size", "epochs"):
    _study = REGISTRY.get(_name)
    # batch None is Keras' default, 32: the same training as level 32, so not run twice
    _factors = tuple(replace(f, levels=tuple(v for v in f.levels if v is not None))
                     for f in _study.factors)
    REGISTRY.add(replace(
        _study, factors=_factors, name=_name + PAPER_BASE_SUFFIX, claims=(),
        title=_study.title + " — on the paper's base",
        inherit_from="paper", variant_of=_name, in_all=("paper", "full"),
        question=f"{_study.question}, on the paper's base",
        description="The same levels on the paper's upstream winners ("
        + ", ".join(_study.inherits.values()) + ") instead of this set's measured ones."))

REGISTRY.add(Study(
    name="keras_models",
    title="Three small Keras MLPs on MNIST",
    per_class=True,
    source="mnist_keras_models",
    paper_table="readme",
    base={"dataset": "mnist", "optimizer": "adam"},
    factors=(Factor("model", (
        {"label": "model_1", "model": "model_1", "epochs": 30},
        {"label": "model_2", "model": "model_2", "epochs": 40},
        {"label": "model_3", "model": "model_3", "epochs": 20},
    )),),
    claims=({"id": "keras_model1_overfits", "kind": "overfits", "level": "model_1",
             "text": "Model_1 overfits: its validation loss rises after its minimum, over the "
             "second half of 30 epochs (the paper: from 0.17 to 0.19).",
             "note": "not epoch 1 against 30: the loss at 30 is below the loss after one "
             "epoch"},),
))

REGISTRY.add(Study(
    name="cnn_manual",
    title="The manual CNN baseline (batch 32, kernel 3, conv 32/64, hidden 512)",
    source="mnist_cnn_optuna_hyperopt",
    paper_table="fig3_manual",
    base={"dataset": "mnist", "model": "cnn_manual", "optimizer": "adam", "batch_size": 32,
          "epochs": 75},
    factors=(Factor("tuning", ("manual",), field=""),),
    # 75 epochs of a 4.7M-parameter CNN: ~10 min a run on one CPU core even at 20 % data
    profile_caps={"quick": {"max_epochs": 8, "data_scale": 0.1}, "paper": {"seeds": 3}},
))

HPO_BASE = {"dataset": "mnist", "model": "cnn_hpo", "arch": {"kind": "cnn", "conv_filters": [16]},
            "epochs": 3, "batch_size": 128, "score_fraction": 0.1}

REGISTRY.add(Study(
    name="hpo",
    title="Optuna vs Hyperopt vs scikit-optimize over dataset fractions",
    source="mnist_cnn_hpo_libs",
    paper_table="fraction",
    kind="hpo",
    base=HPO_BASE,
    factors=(Factor("fraction", (0.25, 0.5, 0.75, 1.0)),),
    hpo={"space": "mnist_cnn_hpo_libs", "trials": 10, "target": 0.97,
         "methods": "optuna:tpe,hyperopt:tpe,skopt:gp", "methods_full": "all",
         "paper_rows": {f"table{k}_fraction": "library@fraction" for k in (3, 4, 5, 6)}},
    description="10 trials per library, 3 epochs, batch 128; the objective is the accuracy on a "
    "seeded random 10 % of the test set (the paper's protocol); the full test set is reported too.",
    claims=(
        {"id": "hpo_optuna_fastest", "kind": "fastest", "library": "optuna",
         "text": "Optuna is the fastest library."},
        {"id": "hpo_hyperopt_most_accurate", "kind": "most_accurate", "library": "hyperopt",
         "text": "HyperOpt is (slightly) the most accurate library."},
        {"id": "hpo_more_data_helps", "kind": "more_data",
         "text": "More data gives better accuracy."}),
))

REGISTRY.add(Study(
    name="hpo_epochs",
    title="Optuna with 10 and 30 epochs on 25 % of MNIST",
    source="mnist_cnn_hpo_libs",
    paper_table="table7_epochs",
    kind="hpo",
    base={**HPO_BASE, "fraction": 0.25},
    factors=(Factor("epochs", (10, 30)),),
    hpo={"space": "mnist_cnn_hpo_libs", "trials": 10, "target": 0.98, "methods": "optuna:tpe",
         "methods_full": "optuna:tpe,hyperopt:tpe,skopt:gp",
         "paper_rows": {"table7_epochs": "epochs"}},
))

REGISTRY.add(Study(
    name="hpo_optuna_hyperopt",
    title="Optuna TPE vs Hyperopt adaptive TPE on an MNIST CNN",
    source="mnist_cnn_optuna_hyperopt",
    paper_table="tuning",
    kind="hpo",
    base={**HPO_BASE, "epochs": 10, "batch_size": None, "score_fraction": 1.0},
    factors=(Factor("space", ("mnist_cnn_optuna_hyperopt",), field=""),),
    hpo={"space": "mnist_cnn_optuna_hyperopt", "trials": 10, "target": 0.98,
         "methods": "optuna:tpe,hyperopt:atpe", "methods_full": "optuna:tpe,hyperopt:atpe,"
         "hyperopt:tpe", "paper_rows": {"fig4_optuna": "method", "fig5_hyperopt": "method"}},
))


def _baseline(label: str, lr: float, conv: int, dense: int, units: int) -> dict:
    from bench.hpo.space import HPO_LIBS, to_run_settings

    settings = to_run_settings(HPO_LIBS, {"learning_rate": lr, "conv_layers": conv,
                                          "dense_layers": dense, "units": units,
                                          "activation": "relu", "filters": 32,
                                          "optimizer": "adam"})
    return {"label": label, **settings}


REGISTRY.add(Study(
    name="hpo_baselines",
    title="The two fixed 'random parameter' CNNs of mnist_cnn_hpo_libs",
    source="mnist_cnn_hpo_libs",
    paper_table="table1_random_params",
    base={k: v for k, v in HPO_BASE.items() if k not in ("model", "arch")},
    factors=(Factor("fixed_params", (
        _baseline("lr=1e-05,conv=2,dense=3,units=256,activation=relu", 1e-5, 2, 3, 256),
        _baseline("lr=1e-03,conv=3,dense=4,units=150,activation=relu", 1e-3, 3, 4, 150),
    )),),
    description="Filters (32) and optimizer (Adam) are not given in the paper.",
    unlike_paper="the paper does not give these networks' filters and optimizer (32 and Adam "
    "are assumed here)",
    profile_caps={"paper": {"seeds": 3}},
))


#: the tabular HPO benchmark: every point of the grid trained for real at one fidelity
TABLE_FIDELITY = {**HPO_BASE, "epochs": 1, "fraction": 0.2, "test_fraction": 0.2,
                  "score_fraction": 1.0}
_FIXED_FIDELITY = {"data_scale": 1.0, "epoch_scale": 1.0, "max_epochs": None,
                   "test_fraction": 1.0}


def _grid_levels() -> tuple[dict, ...]:
    from bench.hpo.space import HPO_LIBS_GRID, grid_points, point_label, to_run_settings

    return tuple({"label": point_label(p), **to_run_settings(HPO_LIBS_GRID, p)}
                 for p in grid_points(HPO_LIBS_GRID))


REGISTRY.add(Study(
    name="hpo_table",
    title="The tabular HPO benchmark: 1,080 CNNs of the mnist_cnn_hpo_libs space, trained",
    source="mnist_cnn_hpo_libs",
    kind="table",
    base=TABLE_FIDELITY,
    factors=(Factor("config", _grid_levels()),),
    hpo={"space": "mnist_cnn_hpo_libs_grid", "top": 100, "top_seeds": 5},
    description="Every grid point trained for 1 epoch on 20 % of the 54,000 MNIST training "
    "images left after a 6,000-image validation holdout (10,800 images), batch 128, two seeds "
    "so that the noise is known, and the 100 best points (by those two seeds) five seeds, so "
    "that the optimum is not decided by noise; the same fidelity under every profile except "
    "smoke.",
    profile_caps={"smoke": {"seeds": 2}, "quick": {**_FIXED_FIDELITY, "seeds": 2},
                  "paper": {**_FIXED_FIDELITY, "seeds": 2},
                  "full": {**_FIXED_FIDELITY, "seeds": 3}},
    in_all=("paper", "full"),
))

REGISTRY.add(Study(
    name="hpo_table_fidelity",
    title="The table's top region at the papers' protocol: 50 of its best points, 3 epochs, "
    "full data",
    source="mnist_cnn_hpo_libs",
    kind="table",
    base={**TABLE_FIDELITY, "epochs": 3, "fraction": 1.0},
    factors=(Factor("config", _grid_levels()),),
    hpo={"space": "mnist_cnn_hpo_libs_grid", "sample_of": "hpo_table", "top": 100,
         "sample": 50},
    description="Every other point of hpo_table's 100 best (by its two base seeds) trained at "
    "the papers' protocol (3 epochs on all 54,000 training images): does the 1-epoch table "
    "rank its top region as the papers' protocol does (Spearman with a bootstrap CI)?",
    profile_caps={"smoke": {"seeds": 1}, "quick": {**_FIXED_FIDELITY, "seeds": 1},
                  "paper": {**_FIXED_FIDELITY, "seeds": 1},
                  "full": {**_FIXED_FIDELITY, "seeds": 1}},
    in_all=("full",),
))

#: searches against the table: where it is and what space its points come from
AGAINST_TABLE = {"table": "hpo_table", "space": "mnist_cnn_hpo_libs_grid"}
DEFAULT_ALGORITHMS = "optuna:tpe,hyperopt:tpe,skopt:gp"

REGISTRY.add(Study(
    name="hpo_tabular",
    title="Every HPO algorithm against the tabular benchmark (100 trials x 20 seeds)",
    source="mnist_cnn_hpo_libs",
    kind="tabular",
    base=TABLE_FIDELITY,
    hpo={**AGAINST_TABLE, "trials": 100, "seeds": 20, "methods": "all"},
    description="A trial looks up the validation accuracy one of the table's seeds recorded for "
    "the proposed configuration (which seed: drawn by the search's seed) and its training time, "
    "so a search measures the library, not the training noise of one run.",
    profile_caps={"smoke": {"hpo_trials": 12, "hpo_seeds": 2}},
    in_all=("paper", "full"),
))

REGISTRY.add(Study(
    name="hpo_table_check",
    title="The table against reality: three libraries' searches trained for real on the grid",
    source="mnist_cnn_hpo_libs",
    kind="tabular",
    base=TABLE_FIDELITY,
    hpo={**AGAINST_TABLE, "trials": 10, "seeds": 3, "methods": DEFAULT_ALGORITHMS,
         "methods_full": DEFAULT_ALGORITHMS, "live": True},
    description="The libraries' default algorithms search the grid as in the replays, but every "
    "proposed point is trained for real at the table's fidelity with a seed the table does not "
    "hold: if the table is right, each live accuracy lands within the table's seed noise.",
    profile_caps={"smoke": {"hpo_trials": 3, "hpo_seeds": 1}},
    in_all=("paper", "full"),
))
