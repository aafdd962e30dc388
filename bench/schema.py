"""The result tables' columns, declared once: name, type, whether compaction always writes
it, and a one-line meaning (field metadata ``doc`` and ``required``).

``store.compact`` writes every table through :func:`to_arrow`: a declared column gets its
declared type (or compaction stops with a one-line :class:`BenchError`); an undeclared column
(a study's factor, an HPO parameter ``param_<name>``) keeps the type pandas gives it.
``docs/results.md`` documents the same tables (``tests/test_schema.py`` checks it; print a
table's markdown with ``python -m bench.schema runs``). Imports only pyarrow and
``bench.errors``: this module is at the bottom of the import graph.
"""

from __future__ import annotations

import sys
from typing import Any

import pyarrow as pa

from bench.errors import BenchError

STRING, INT, FLOAT, BOOL = pa.large_string(), pa.int64(), pa.float64(), pa.bool_()
#: a declared type's name in docs/results.md
TYPE_NAMES = {STRING: "string", INT: "int64", FLOAT: "float64", BOOL: "bool"}


def _col(name: str, type_: pa.DataType, doc: str, required: bool = False) -> pa.Field:
    return pa.field(name, type_, metadata={"doc": doc, "required": "yes" if required else "no"})


def _fields(spec: str, type_: pa.DataType, doc: str, required: bool = False) -> list[pa.Field]:
    """Several columns (space-separated names) sharing a type and meaning."""
    return [_col(name, type_, doc, required) for name in spec.split()]


_S, _I, _F, _B = STRING, INT, FLOAT, BOOL
_SEARCH_COMMON = [  # the columns a search and each of its trials share
    _col("search_id", _S, "the hash of the search specification", True),
    _col("study", _S, "the HPO study", True),
    _col("library", _S, "`optuna`, `hyperopt`, `skopt`, ...", True),
    _col("algorithm", _S, "the library's algorithm (`tpe`, `random`, `gp`, ...)", True),
    _col("method", _S, "`library:algorithm`", True),
    _col("fraction", _F, "fraction of the training set each trial trains on (live searches)"),
    _col("fraction_nominal", _F, "the paper's fraction (live searches)"),
    _col("epochs", _I, "epochs each trial trains (live searches)"),
    _col("epochs_nominal", _I, "the paper's epochs (live searches)"),
    _col("selection", _S, "`validation` or `test`: the split trials are scored on"),
    _col("seed", _I, "the search's seed", True),
    _col("sampler_seed", _I, "the seed handed to the library (live searches)"),
    _col("profile", _S, "the profile it ran under", True),
    _col("space", _S, "the search space (see docs/hpo.md)", True),
    _col("budget", _I, "trials asked for (`n_trials`: trials that ran; live searches)"),
    _col("benchmark", _S, "`tabular` (replayed on a table) or `table_check` (tabular only)"),
    _col("replay_version", _I, "version of the replay rules (tabular only)"),
    _col("table", _S, "the table study replayed (tabular only)"),
]

TABLES: dict[str, pa.Schema] = {
    "runs": pa.schema([
        _col("run_id", _S, "the hash of the run specification (equals `config_hash`)", True),
        _col("config_hash", _S, "the hash of the run specification"),
        _col("study", _S, "the study the run belongs to", True),
        _col("dataset", _S, "`mnist` or `fashion-mnist`", True),
        _col("model", _S, "the preset's name when the network is the preset's, else a name "
             "for the network trained, or a builder's `module:function`", True),
        _col("model_kind", _S, "`mlp`, `cnn` or `custom`"),
        _col("arch", _S, "the architecture trained (JSON)"),
        _col("layers", _S, "the network as built, one token per layer read from Keras "
             "(`flatten dense300[l2=0.0001] dropout0.2 dense10`)"),
        _col("dropout", _F, "the dropout rate (NaN when layers differ)"),
        _col("dropout_rates", _S, "per-layer dropout rates (JSON, when they differ)"),
        _col("regularizer", _S, "weight regularizer (JSON, e.g. `{\"l2\": 0.0001}`)"),
        _col("label_smoothing", _F, "label smoothing of the loss"),
        _col("optimizer_args", _S, "optimizer arguments from the study file (JSON)"),
        _col("optimizer_config", _S, "the compiled Keras optimizer's config, `class` "
             "included (JSON)"),
        _col("lr_schedule", _S, "the learning-rate schedule (JSON, when the rate is a "
             "schedule; `learning_rate` is then its initial rate)"),
        _col("seed", _I, "the run's seed"),
        _col("epochs", _I, "epochs asked for", True),
        _col("batch_size", _I, "batch size (null = framework default)"),
        _col("effective_batch_size", _I, "the batch size trained with"),
        _col("optimizer", _S, "optimizer name", True),
        _col("learning_rate", _F, "the effective learning rate", True),
        _col("activation", _S, "hidden-layer activation", True),
        _col("initializer", _S, "weight initializer", True),
        _col("fraction", _F, "fraction of the training set trained on, after hold-out", True),
        _col("validation", _S, "`holdout:F`, or `test` for the papers' protocol", True),
        _col("selection", _S, "`validation` or `test`: the split winners were chosen on"),
        _col("test_fraction", _F, "fraction of the test set evaluated on", True),
        _col("precision", _S, "the Keras dtype policy trained with"),
        *_fields("epochs_nominal fraction_nominal", _S,
                 "the paper's value beside the trained one (when a profile scaled it)"),
        _col("trained_by", _S, "the process that trained the run: host, pid (JSON)"),
        _col("factor", _S, "the study's factor (`a+b` when it crosses several)", True),
        _col("level", _S, "the factor's level (the levels joined when it crosses several)", True),
        _col("profile", _S, "the profile it ran under", True),
        _col("status", _S, "`ok`, `diverged` (loss became NaN/inf) or `failed`", True),
        _col("error", _S, "why a failed run failed", True),
        _col("traceback", _S, "the failed run's traceback (last 5 frames)", True),
        _col("diverged_epoch", _I, "the epoch a diverged run's loss became NaN/inf", True),
        _col("test_accuracy", _F, "final test accuracy", True),
        _col("test_loss", _F, "final test loss", True),
        _col("macro_f1", _F, "final macro-averaged F1 on the test set", True),
        _col("score_accuracy", _F, "the accuracy winners are chosen by (validation, or test "
             "under the papers' protocol)", True),
        *_fields("final_train_loss final_train_accuracy final_val_loss final_val_accuracy", _F,
                 "the last epoch's training / validation metric"),
        _col("params", _I, "trainable and other parameters of the network", True),
        _col("n_train", _I, "training images", True),
        _col("n_val", _I, "validation images"),
        _col("n_test", _I, "test images"),
        _col("epochs_completed", _I, "epochs actually trained"),
        _col("train_seconds", _F, "training only: no validation; with compiled epochs no "
             "compilation either", True),
        _col("compile_seconds", _F, "compiled epochs: tracing + XLA (0 when the compiled "
             "model was reused)"),
        _col("fit_seconds", _F, "the whole fit, validation included", True),
        _col("eval_seconds", _F, "the final test evaluation"),
        _col("wall_seconds", _F, "the run from start to record", True),
        _col("started_at", _F, "when the run started (Unix time)"),
        _col("jit_compile", _B, "trained with XLA (speed only)"),
        _col("epoch_loop", _S, "`compiled` or `keras` (speed only)"),
        _col("epoch_loop_fallback", _S, "why compiled epochs were not used"),
        _col("model_reused", _B, "the compiled model of an earlier run was reused"),
        _col("deterministic", _B, "trained with deterministic ops"),
        _col("backend", _S, "the Keras backend"),
        _col("keras_version", _S, "the Keras version"),
        _col("device", _S, "the device trained on"),
        _col("tf32", _B, "TensorFlow's TF32 matmuls were on (null on other backends)"),
        _col("matmul_precision", _S, "JAX's default matmul precision (JAX only)"),
    ]),
    "epochs": pa.schema([
        _col("run_id", _S, "the run", True),
        _col("epoch", _I, "1-based epoch", True),
        _col("split", _S, "`train`, `val` or `test`", True),
        _col("metric", _S, "`loss`, `accuracy` or `seconds`", True),
        _col("value", _F, "the metric's value", True),
    ]),
    "classes": pa.schema([
        _col("run_id", _S, "the run", True),
        _col("class_index", _I, "the class's label (0-9)", True),
        _col("class_name", _S, "the class's name", True),
        *_fields("precision recall f1", _F, "the class's test precision / recall / F1", True),
        _col("support", _I, "test images of the class", True),
    ]),
    "confusion": pa.schema([
        _col("run_id", _S, "the run", True),
        _col("true", _I, "true class", True),
        _col("pred", _I, "predicted class", True),
        _col("count", _I, "test images (pairs with count 0 are left out)", True),
    ]),
    "predictions": pa.schema([
        _col("run_id", _S, "the run", True),
        _col("index", _I, "the test image's index (the first 40)", True),
        _col("true", _I, "true class", True),
        _col("pred", _I, "predicted class", True),
        _col("confidence", _F, "the predicted class's probability", True),
    ]),
    "searches": pa.schema([
        *_SEARCH_COMMON,
        _col("status", _S, "`ok`, `interrupted` or `failed`", True),
        _col("error", _S, "why a failed search failed"),
        _col("n_trials", _I, "trials that ran"),
        _col("n_resumed", _I, "trials taken from an interrupted run (live searches)"),
        _col("n_failed", _I, "trials without a score (live searches)"),
        _col("best_accuracy", _F, "the best trial's score (its selection accuracy)"),
        _col("best_test_accuracy", _F, "the best trial's test accuracy"),
        _col("best_test_loss", _F, "the best trial's test loss (live searches)"),
        _col("best_params_json", _S, "the best trial's parameters (JSON; live searches)"),
        _col("optimization_seconds", _F, "the search's elapsed time (live searches)"),
        _col("suggest_seconds_total", _F, "time the library spent suggesting trials"),
        _col("target_accuracy", _F, "the accuracy `time_to_target_seconds` is measured to"),
        _col("time_to_target_seconds", _F, "elapsed time until the target was reached"),
        _col("started_at", _F, "when the search started (Unix time)"),
        _col("worker_host", _S, "the host that ran the search (live searches)"),
        _col("worker_pid", _I, "the process that ran the search (live searches)"),
        _col("final_regret", _F, "the last incumbent's regret (tabular)"),
        _col("best_config", _S, "the last incumbent's configuration (tabular)"),
        _col("table_optimum", _F, "the table's best mean validation accuracy (tabular)"),
        _col("table_optimum_config", _S, "the table's best configuration (tabular)"),
        _col("simulated_seconds", _F, "compute cost + suggest time of the replay (tabular)"),
        _col("wall_seconds", _F, "the replay's own wall time (tabular)"),
    ]),
    "trials": pa.schema([
        *_SEARCH_COMMON,
        _col("trial_key", _S, "`search_id-trial`", True),
        _col("trial", _I, "0-based trial number", True),
        _col("params_json", _S, "the trial's parameters (JSON; live searches)"),
        _col("objective", _F, "what the library maximised (null for a failed trial)"),
        _col("score_accuracy", _F, "the trial's selection accuracy (live searches)"),
        _col("test_accuracy", _F, "the trial's test accuracy (live searches)"),
        _col("test_loss", _F, "the trial's test loss (live searches)"),
        _col("status", _S, "the trial's run status", True),
        _col("error", _S, "why a failed trial failed"),
        _col("trial_seconds", _F, "the trial's time, training included (live searches)"),
        _col("train_seconds", _F, "the trial's training time"),
        _col("suggest_seconds", _F, "time the library spent suggesting the trial"),
        _col("elapsed_seconds", _F, "time since the search started (live searches)"),
        _col("best_so_far", _F, "the best objective up to this trial (live searches)"),
        _col("proposed_by", _S, "what proposed the trial (`random` start-up or the model)"),
        _col("device", _S, "the device trained on (live searches)"),
        _col("precision", _S, "the Keras dtype policy trained with (live searches)"),
        _col("config", _S, "the table configuration looked up (tabular)"),
        _col("cost_seconds", _F, "the configuration's compute cost (tabular)"),
        _col("simulated_seconds", _F, "compute cost + suggest time so far (tabular)"),
        _col("config_val_mean", _F, "the configuration's mean validation accuracy (tabular)"),
        _col("incumbent", _S, "the best configuration so far (tabular)"),
        _col("incumbent_val_mean", _F, "the incumbent's mean validation accuracy (tabular)"),
        _col("incumbent_test_mean", _F, "the incumbent's mean test accuracy (tabular)"),
        _col("regret", _F, "table optimum minus the incumbent's validation mean (tabular)"),
    ]),
}

#: the undeclared columns a table may gain (any type pandas gives them)
EXTRA = {
    "runs": "one column per factor when a study crosses several",
    "searches": "one column per factor when an HPO study crosses several",
    "trials": "`param_<name>`: one column per search-space parameter; factor columns as in "
              "`searches`",
}


def columns(table: str) -> list[str]:
    """The declared columns of ``table``, in order."""
    return list(TABLES[table].names)


def required(table: str) -> list[str]:
    """The columns compaction always writes (null-filled when no record has them)."""
    return [f.name for f in TABLES[table] if f.metadata[b"required"] == b"yes"]


def doc(table: str, column: str) -> str:
    """The one-line meaning of a declared column."""
    return TABLES[table].field(column).metadata[b"doc"].decode()


def type_name(type_: pa.DataType) -> str:
    """A declared type as docs/results.md writes it."""
    return TYPE_NAMES[type_]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _cast(table: str, column: str, values: pa.Array, want: pa.DataType,
          keys: Any) -> pa.Array:
    """``values`` as ``want``, or a BenchError naming the table, column and first bad row."""
    try:
        return values.cast(want, safe=True)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        row = next((i for i in range(len(values)) if not _casts(values[i:i + 1], want)), None)
        where = "" if row is None else f" (row {row}, value {values[row].as_py()!r}" + (
            f", {keys.name} {keys.iloc[row]}" if keys is not None else "") + ")"
        raise BenchError(
            f"table {table}, column {column}: {values.type} values are not "
            f"{TYPE_NAMES[want]}{where}: {_first_line(exc)}; fix the record and run "
            "`bench compact` (the previous tables are kept)") from exc


def _casts(values: pa.Array, want: pa.DataType) -> bool:
    try:
        values.cast(want, safe=True)
    except (pa.ArrowException, TypeError, ValueError):
        return False
    return True


def to_arrow(table: str, df: Any) -> pa.Table:
    """``df`` (a pandas DataFrame) as an Arrow table of ``table``'s schema: declared columns
    cast to their type, undeclared ones as pandas gives them. Raises BenchError naming the
    table and column when a declared column's values cannot be cast."""
    declared = TABLES[table]
    key = next((k for k in ("run_id", "search_id") if k in df.columns), None)
    df = df.copy()
    fields = []
    for column in df.columns:
        try:
            values = pa.array(df[column], from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError) as exc:
            raise BenchError(f"table {table}, column {column}: mixed values that cannot be "
                             f"stored: {_first_line(exc)}") from exc
        if column not in declared.names:
            fields.append(pa.field(column, values.type))
            continue
        want = declared.field(column).type
        if values.type != want:  # pandas' dtype then matches the stored type
            cast = _cast(table, column, values, want, df[key] if key else None)
            df[column] = cast.to_pandas().set_axis(df.index)
        fields.append(declared.field(column))
    return pa.Table.from_pandas(df, schema=pa.schema(fields), preserve_index=False)


def markdown(table: str) -> str:
    """``table``'s declared columns as the markdown table docs/results.md holds."""
    lines = ["| column | type | present | meaning |", "|---|---|---|---|"]
    for f in TABLES[table]:
        present = "always" if f.metadata[b"required"] == b"yes" else "optional"
        lines.append(f"| `{f.name}` | {type_name(f.type)} | {present} | {doc(table, f.name)} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m bench.schema [TABLE...]: the tables for the docs
    for name in sys.argv[1:] or list(TABLES):
        print(f"## `{name}`\n\n{markdown(name)}\n")
