"""User studies from a YAML or TOML file, validated with errors that name the field.

Example::

    name: my_optimizers
    title: Adam vs SGD at two learning rates
    base: {dataset: fashion_mnist, model: mlp_300_100, epochs: 5}
    factors:
      optimizer: [adam, sgd]
      learning_rate: [0.001, 0.01]
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bench.errors import BenchError
from bench.spec import RunSpec
from bench.studies.registry import PROFILES, Factor, Study

SETTABLE = sorted(f.name for f in fields(RunSpec) if f.name not in ("study", "seed", "factors"))


class StudyFile(BaseModel):
    """The schema of a study file."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    source: str = "user"
    base: dict[str, Any] = {}
    factors: dict[str, list[Any]]

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


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise BenchError(f"study file {path} does not exist")
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
        loaded = yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or exc
        kind = "TOML" if path.suffix == ".toml" else "YAML"
        raise BenchError(f"study file {path}: not valid {kind}{where}: {what}") from exc
    if not isinstance(loaded, dict):
        raise BenchError(f"study file {path}: expected a mapping at the top level")
    return loaded


def load_study_file(path: Path | str) -> Study:
    """Parse and validate a study file into a ``Study`` (every cell is validated)."""
    path = Path(path)
    raw = _read(path)
    try:
        parsed = StudyFile.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "file"
        raise BenchError(f"study file {path}: field '{where}': {err['msg']}") from exc
    study = Study(
        name=parsed.name, title=parsed.title or parsed.name, source=parsed.source,
        base=parsed.base,
        factors=tuple(Factor(n, tuple(levels)) for n, levels in parsed.factors.items()),
    )
    try:
        study.spec(PROFILES["paper"], 0, {}, {})
    except (BenchError, TypeError, ValueError) as exc:
        raise BenchError(f"study file {path}: field 'base': {exc}") from exc
    for factor in study.factors:
        for i, (label, changes) in enumerate(factor.expand()):
            try:
                study.spec(PROFILES["paper"], 0, changes, {factor.name: label})
            except (BenchError, TypeError, ValueError) as exc:
                raise BenchError(
                    f"study file {path}: field 'factors.{factor.name}[{i}]': {exc}") from exc
    try:
        study.expand(PROFILES["paper"], [0])
    except (BenchError, TypeError, ValueError) as exc:
        raise BenchError(f"study file {path}: field 'base': {exc}") from exc
    return study
