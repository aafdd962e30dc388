"""User studies from a YAML or TOML file, validated with errors that name the field.

Example::

    name: my_optimizers
    title: Adam vs SGD at two learning rates
    base: {dataset: fashion_mnist, model: mlp_300_100, epochs: 5}
    factors:
      optimizer: [adam, sgd]
      learning_rate: [0.001, 0.01]
    claims: [{kind: best_level, level: "adam|0.001"}]

Every cell of the grid is validated and its network built once (no training) before
anything runs, so a combination the engine cannot build is an error naming the field.
"""

from __future__ import annotations

import math
import os
import sys
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.errors import BenchError
from bench.settings import is_builder
from bench.spec import RunSpec
from bench.store import ResultStore, user_studies
from bench.studies.catalog import REGISTRY
from bench.studies.registry import OVERFIT_MIN_EPOCHS, PROFILES, Factor, Study

MAX_FILE_BYTES = 1_000_000  # a study file is a page of settings, not data
MAX_NODES = 100_000  # YAML values after aliases are expanded (an alias bomb is billions)
MAX_CELLS = 1_000  # grid cells (levels, crossed): each is trained seeds x times
MAX_TEXT = 500  # characters of a title, source or claim text (copied into the manifest)
SETTABLE = sorted(f.name for f in fields(RunSpec) if f.name not in ("study", "seed", "factors"))


class ClaimSpec(BaseModel):
    """A claim a study file states about its own results (see bench.report.claims)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["best_level", "overfits", "no_gain_past"]
    level: Any  # a level label (a list for several factors: one label per factor)
    smaller: list[Any] = []  # no_gain_past: the levels that should gain nothing over ``level``
    text: str = Field("", max_length=MAX_TEXT)


class StudyFile(BaseModel):
    """The schema of a study file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    title: str = Field("", max_length=MAX_TEXT)
    source: str = Field("user", max_length=MAX_TEXT)
    base: dict[str, Any] = {}
    factors: dict[str, list[Any]]
    claims: list[ClaimSpec] = []

    @field_validator("base")
    @classmethod
    def _base_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(set(value) - set(SETTABLE))
        if bad:
            raise ValueError(f"unknown setting(s) {', '.join(bad)}; valid: {', '.join(SETTABLE)}")
        return value

    @field_validator("factors")
    @classmethod
    def _factor_fields(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not value:
            raise ValueError("at least one factor is needed")
        for name, levels in value.items():
            if name not in SETTABLE:
                raise ValueError(f"unknown factor {name!r}; valid: {', '.join(SETTABLE)}")
            if not levels:
                raise ValueError(f"factor {name!r} has no levels")
        return value


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error (PyYAML keeps
    the last one silently, so a factor listed twice would lose its first levels)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _load_yaml(path: Path, text: str) -> Any:
    """Parse with the safe loader after counting the values aliases expand to (an alias
    bomb is refused before anything is built)."""
    loader = _UniqueKeyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            size = _expanded_size(node, {}, set())
        except ValueError as exc:
            raise BenchError(f"study file {path}: {exc}") from exc
        if size > MAX_NODES:
            raise BenchError(f"study file {path}: its aliases expand to more than "
                             f"{MAX_NODES:,} values (an alias bomb?)")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """Values ``node`` holds once every alias is expanded (each shared node counted once per
    use, computed once); a node holding itself is refused."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise ValueError("a YAML alias refers to itself")
    open_.add(key)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        total += sum(_expanded_size(n, sizes, open_) for n in node.value)
    elif isinstance(node, yaml.MappingNode):
        total += sum(_expanded_size(k, sizes, open_) + _expanded_size(v, sizes, open_)
                     for k, v in node.value)
    open_.discard(key)
    sizes[key] = min(total, MAX_NODES + 1)  # stop counting past the limit
    return sizes[key]


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise BenchError(f"study file {path} does not exist")
    if path.is_file() and path.stat().st_size > MAX_FILE_BYTES:
        raise BenchError(f"study file {path}: {path.stat().st_size:,} bytes; a study file "
                         f"holds at most {MAX_FILE_BYTES:,}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise BenchError(f"study file {path}: not UTF-8 text (byte {exc.start}); save it as "
                         "UTF-8") from exc
    except OSError as exc:
        raise BenchError(f"study file {path}: cannot read it ({exc.strerror})") from exc
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        loaded = _load_yaml(path, text)
    except RecursionError as exc:
        raise BenchError(f"study file {path}: nested too deeply") from exc
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or exc
        kind = "TOML" if path.suffix == ".toml" else "YAML"
        raise BenchError(f"study file {path}: not valid {kind}{where}: {what}") from exc
    if not isinstance(loaded, dict):
        raise BenchError(f"study file {path}: expected a mapping at the top level")
    return loaded


def _null_dropout(settings: dict[str, Any]) -> dict[str, Any]:
    """``dropout: null`` in a file means no dropout (RunSpec's None: the architecture's)."""
    return {**settings, "dropout": 0.0} if "dropout" in settings and \
        settings["dropout"] is None else settings


def study_from_definition(raw: dict[str, Any]) -> Study:
    """A ``Study`` from a study file's content (schema checked; cells not validated)."""
    parsed = StudyFile.model_validate(raw)
    factors = [Factor(name, tuple(levels)) for name, levels in parsed.factors.items()]
    return Study(
        name=parsed.name, title=parsed.title or parsed.name, source=parsed.source,
        base=_null_dropout(parsed.base), factors=tuple(factors),
        claims=tuple(_claim(c) for c in parsed.claims), definition=raw,
    )


def _claim(claim: ClaimSpec) -> dict[str, Any]:
    def text(level: Any) -> str:
        return "|".join(map(label, level)) if isinstance(level, list) else label(level)

    out = {"kind": claim.kind, "level": text(claim.level), "text": claim.text}
    if claim.kind == "no_gain_past":
        out["smaller"] = [text(v) for v in claim.smaller]
    return out


def label(value: Any) -> str:
    """A level as the factor labels it (a float ``0.2`` as ``0.2``)."""
    return "none" if value is None else str(value)


def load_study_file(path: Path | str) -> Study:
    """Parse and validate a study file into a ``Study`` (every cell is validated, and every
    distinct network is built once, before anything runs)."""
    path = Path(path)
    raw = _read(path)
    try:
        study = study_from_definition(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "file"
        raise BenchError(f"study file {path}: field '{where}': {err['msg']}") from exc
    cells = math.prod(len(f.levels) for f in study.factors)
    if cells > MAX_CELLS:
        raise BenchError(f"study file {path}: field 'factors': {cells:,} grid cells; a study "
                         f"holds at most {MAX_CELLS:,} (split it into several files)")
    _builders_importable(path, study)
    if study.name in REGISTRY.names():
        raise BenchError(f"study file {path}: field 'name': {study.name!r} is a built-in "
                         "study; choose another name")
    try:
        study.spec(PROFILES["paper"], 0, {}, {}).check_sizes()
    except (BenchError, TypeError, ValueError) as exc:
        raise BenchError(f"study file {path}: field 'base': {exc}") from exc
    where = _check_levels(path, study)
    try:
        cells = study.grid()
        specs = [study.spec(PROFILES["paper"], 0, changes, labels) for labels, changes in cells]
    except (BenchError, TypeError, ValueError) as exc:
        raise BenchError(f"study file {path}: field 'factors': {exc}") from exc
    if len({spec.factors["level"] for spec in specs}) < len(specs):
        raise BenchError(f"study file {path}: field 'factors': two grid cells have one label; "
                         "give their levels distinct labels")
    _check_builds(path, study, [(labels, spec) for (labels, _), spec in zip(cells, specs,
                                                                           strict=True)], where)
    _check_claims(path, study, {spec.factors["level"] for spec in specs})
    _check_curves(path, study, specs)
    return study


def _check_levels(path: Path, study: Study) -> dict[str, str]:
    """Every level of every factor: a label of its own (no '|' when factors cross) and sizes
    that make sense; returns ``factor=label`` -> where the file declares it."""
    where: dict[str, str] = {}
    for factor in study.factors:
        labels = [lbl for lbl, _ in factor.expand()]
        for i, (lbl, changes) in enumerate(factor.expand()):
            if lbl in labels[:i]:
                raise BenchError(f"study file {path}: field 'factors.{factor.name}[{i}]': "
                                 f"two levels have the label {lbl!r}; give one a label")
            if len(study.factors) > 1 and "|" in lbl:
                raise BenchError(f"study file {path}: field 'factors.{factor.name}[{i}]': the "
                                 f"label {lbl!r} holds '|', which joins the labels of crossed "
                                 "factors (a|b x c and a x b|c would be one cell); give it a "
                                 "label without it")
            where[f"{factor.name}={lbl}"] = f"factors.{factor.name}[{i}]"
            try:
                study.spec(PROFILES["paper"], 0, changes, {factor.name: lbl}).check_sizes()
            except (BenchError, TypeError, ValueError) as exc:
                raise BenchError(
                    f"study file {path}: field 'factors.{factor.name}[{i}]': {exc}") from exc
    return where


def _check_curves(path: Path, study: Study, specs: list[RunSpec]) -> None:
    """An overfits claim needs a curve long enough to have a second half."""
    for i, claim in enumerate(study.claims):
        epochs = [s.epochs for s in specs if s.factors["level"] == claim["level"]]
        if claim["kind"] == "overfits" and epochs and max(epochs) < OVERFIT_MIN_EPOCHS:
            raise BenchError(f"study file {path}: field 'claims[{i}]': an overfits claim needs "
                             f"a learning curve of {OVERFIT_MIN_EPOCHS} epochs or more; level "
                             f"{claim['level']!r} trains {max(epochs)}")


def _builders_importable(path: Path, study: Study) -> None:
    """A builder module next to the study file can be imported (here and in workers): its
    folder is appended to the import path (last, so it never shadows an installed module)."""
    models = [study.base.get("model")] + [lvl.get("model") if isinstance(lvl, dict) else lvl
                                          for f in study.factors if f.name == "model"
                                          for lvl in f.levels]
    if not any(is_builder(m) for m in models if isinstance(m, str)):
        return
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.append(folder)
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if folder not in parts:
        os.environ["PYTHONPATH"] = os.pathsep.join([*parts, folder])


def _build(spec: RunSpec, part: str = "both") -> str | None:
    """Build ``spec``'s network and/or optimizer once (no training); the error, or None."""
    from bench import models, settings
    from bench.quiet import keras

    try:
        if part in ("both", "network"):
            models.build_for(spec)
        if part in ("both", "optimizer"):
            settings.make_optimizer(spec.optimizer, spec.learning_rate)
    except SystemExit as exc:
        return f"it called sys.exit({exc.code!r})"
    except Exception as exc:  # whatever a builder raises is the user's to fix
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    finally:
        if part != "optimizer":
            keras.backend.clear_session()
    return None


def _cell_error(spec: RunSpec, errors: dict[str, str | None]) -> str | None:
    """Build each distinct network and each distinct optimizer once (a grid of plain learning
    rates, checked by RunSpec, builds one of each); a builder sees the whole spec, so it is
    built per cell."""
    import json

    whole = spec.to_dict() if spec.architecture()["kind"] == "custom" else None
    net = "net " + json.dumps([spec.model, spec.architecture(), whole], sort_keys=True,
                              default=str)
    schedule = spec.learning_rate if isinstance(spec.learning_rate, dict) else None
    opt = "opt " + json.dumps([spec.optimizer, schedule], sort_keys=True, default=str)
    if net not in errors:
        errors[net] = _build(spec, "network")
    if errors[net] is None and opt not in errors:
        errors[opt] = _build(spec, "optimizer")
    return errors[net] or errors.get(opt)


def _check_builds(path: Path, study: Study, cells: list[tuple[dict[str, str], RunSpec]],
                  where: dict[str, str]) -> None:
    """Build each distinct network once: what the engine cannot build is reported with the
    field that causes it: a factor's level when it fails in every cell, ``base`` when every
    cell fails, else the combination of the failing cell's levels."""
    errors: dict[str, str | None] = {}
    failed: list[tuple[dict[str, str], str]] = []
    for labels, spec in cells:
        error = _cell_error(spec, errors)
        if error is not None:
            failed.append((labels, error))
    if not failed:
        return
    labels, error = failed[0]
    if len(failed) == len(cells) and _build(study.spec(PROFILES["paper"], 0, {}, {})):
        culprits = ["base"]
    else:
        culprits = [where[f"{name}={lbl}"] for name, lbl in labels.items()
                    if sum(c[name] == lbl for c, _ in cells) == sum(
                        c[name] == lbl for c, _ in failed)] if len(labels) > 1 else []
        culprits = culprits or [where[f"{k}={v}"] for k, v in labels.items()] or ["base"]
    raise BenchError(f"study file {path}: field '{' + '.join(culprits)}': cannot be built: "
                     f"{error}")


def _check_claims(path: Path, study: Study, levels: set[str]) -> None:
    for i, claim in enumerate(study.claims):
        for lvl in [claim["level"], *claim.get("smaller", [])]:
            if lvl not in levels:
                raise BenchError(f"study file {path}: field 'claims[{i}].level': unknown level "
                                 f"{lvl!r}; levels: {', '.join(sorted(levels))}")


def recorded_user_studies(store: ResultStore) -> list[Study]:
    """The study files this result set ran (kept in its manifest), as studies."""
    found = []
    for name, raw in sorted(user_studies(store.manifest()).items()):
        if name in REGISTRY.names():
            continue
        try:
            found.append(study_from_definition(raw))
        except ValueError:
            continue  # a manifest edited by hand: nothing to plan from
    return found
