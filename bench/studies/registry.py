"""Studies as data: factors and levels that expand into run specifications, and profiles."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields, replace
from typing import Any

from bench.errors import BenchError, unknown_name
from bench.spec import RunSpec

OVERFIT_MIN_EPOCHS = 4  # an overfit claim: a shorter curve has no second half to fit a line through
SCALED_FIELDS = ("epochs", "fraction")  # settings a profile scales: labelled as trained


@dataclass(frozen=True)
class Profile:
    """How much of each study to run: data, epochs, seeds, trials."""

    name: str
    description: str
    data_scale: float = 1.0  # multiplies every study's dataset fraction
    epoch_scale: float = 1.0  # multiplies every study's epoch count
    max_epochs: int | None = None
    seeds: int = 1
    test_fraction: float = 1.0
    hpo_trials: int | None = None  # None = the paper's count
    hpo_seeds: int = 1  # seeds per HPO search (a search is many trainings)
    hpo_algorithms: str = "default"  # default | all

    @property
    def reduced(self) -> bool:
        """True when this profile trains less than the papers did (data or epochs)."""
        return self.data_scale < 1 or self.epoch_scale < 1 or self.max_epochs is not None

    def summary(self) -> str:
        """What this profile trains, in a few words: "20 % of the data, 40 % of the epochs"."""
        parts = []
        if self.data_scale < 1:
            parts.append(f"{self.data_scale:.0%} of the data")
        if self.epoch_scale < 1:
            parts.append(f"{self.epoch_scale:.0%} of the epochs")
        if self.max_epochs:
            parts.append(f"at most {self.max_epochs} epoch(s)")
        return ", ".join(parts) or "the papers' data and epochs"

    def epochs(self, epochs: int) -> int:
        scaled = max(1, round(epochs * self.epoch_scale))
        return min(scaled, self.max_epochs) if self.max_epochs else scaled


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("smoke", "seconds per study: 2 % of the data, 1 epoch, 1 seed (tests and CI)",
                data_scale=0.02, epoch_scale=0.0, max_epochs=1, test_fraction=0.2, hpo_trials=2),
        Profile("quick", "the whole sweep in ~30 min on a 2-core CPU: 20 % of the data, "
                "40 % of the epochs, 3 seeds, HPO 4 trials x 1 seed (a reduced protocol)",
                data_scale=0.2, epoch_scale=0.4, seeds=3, hpo_trials=4),
        Profile("paper", "the papers' protocols: full data, their epochs, 5 seeds (3 for the "
                "CNN studies), HPO 5 seeds", seeds=5, hpo_seeds=5),
        Profile("full", "the papers' protocols x 10 seeds and every HPO algorithm (for a GPU)",
                seeds=10, hpo_algorithms="all", hpo_seeds=10),
    )
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise unknown_name("profile", name, list(PROFILES))
    return PROFILES[name]


@dataclass(frozen=True)
class Factor:
    """A factor: the RunSpec field it sets and its levels.

    A level is a value assigned to ``field`` (any type: a number, a list, a dict such as
    ``{l2: 1e-4}`` or an architecture; ``""``: a label only), or a dict of RunSpec fields with
    a ``label``. A dict value may carry its own ``label``.
    """

    name: str
    levels: tuple[Any, ...]
    field: str | None = None

    def expand(self) -> list[tuple[str, dict[str, Any]]]:
        from bench.settings import label as readable

        target = self.field or self.name
        out = []
        for level in self.levels:
            if isinstance(level, dict) and _is_changes(level, target):
                changes = {k: v for k, v in level.items() if k != "label"}
                out.append((str(level.get("label", level)), changes))
            elif self.field == "":
                out.append((str(level), {}))
            elif isinstance(level, dict | list) or level is None and target in NEW_SETTINGS:
                value = {k: v for k, v in level.items() if k != "label"} \
                    if isinstance(level, dict) else level
                name = level.get("label") if isinstance(level, dict) else None
                if value is None and target == "dropout":
                    value = 0.0  # null: no dropout (a RunSpec's None keeps the preset's)
                out.append((str(name) if name is not None else readable(level and value),
                            {target: value}))
            else:
                out.append((str(level), {target: level}))
        return out


#: settings whose levels are labelled readably (older ones keep ``str(level)``: their labels
#: are part of stored runs' hashes)
NEW_SETTINGS = ("dropout", "regularizer", "label_smoothing")
_SPEC_FIELDS = {f.name for f in fields(RunSpec)}


def _is_changes(level: dict[str, Any], target: str) -> bool:
    """A dict level is a set of RunSpec changes (the labelled form) unless it is a value of
    a dict-valued setting (``arch``, ``regularizer``, ``optimizer``, ``learning_rate``)."""
    keys = set(level) - {"label"}
    if target not in _SPEC_FIELDS:
        return True
    return "label" in level and bool(keys) and keys <= _SPEC_FIELDS


def compose(factors: tuple[Factor, ...], combo: tuple[tuple[str, dict[str, Any]], ...]
            ) -> dict[str, Any]:
    """The RunSpec changes of one grid cell. Two factors never overwrite each other: two
    partial architectures merge, any other overlap is an error naming both factors."""
    changes: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for factor, (_, change) in zip(factors, combo, strict=False):
        for key, value in change.items():
            if key not in changes:
                changes[key], owner[key] = value, factor.name
                continue
            old = changes[key]
            if key == "arch" and isinstance(old, dict) and isinstance(value, dict) \
                    and not set(old) & set(value) - {"kind"} \
                    and old.get("kind", value.get("kind")) == value.get("kind", old.get("kind")):
                changes[key] = {**old, **value}
                continue
            raise BenchError(f"factors {owner[key]!r} and {factor.name!r} both set {key!r} "
                             "(give each factor its own setting, e.g. dropout and arch)")
    return changes


@dataclass(frozen=True)
class Stage:
    """One step of a growing search: ``field`` gets the winner so far with ``level`` appended."""

    name: str
    levels: tuple[int, ...]
    paper_winner: int | None = None  # the source paper's choice at this stage (None: no layer)


@dataclass(frozen=True)
class Study:
    """A declared study: base settings, factors (a cartesian grid) and how to report it."""

    name: str
    title: str
    source: str  # key of the paper it reproduces
    base: dict[str, Any]
    factors: tuple[Factor, ...] = ()
    paper_table: str | None = None  # ``table`` column of paper_results.csv
    report_epoch: int | None = None  # read the metric at this epoch of the curve
    curve: tuple[int, ...] = ()  # levels of ``epochs`` read from one long run
    inherits: dict[str, str] = field(default_factory=dict)  # upstream study -> paper's winner
    #: where inherited settings come from: ``measured`` (the upstream study's winner in this
    #: result set, the paper's until it has one) or ``paper`` (always the paper's winners)
    inherit_from: str = "measured"
    #: the study this one is a labelled variant of (same factors, another base)
    variant_of: str | None = None
    #: level -> the level it trains exactly as (batch None is Keras' default, 32): the
    #: report counts it once, under the level it is the same as
    aliases: dict[str, str] = field(default_factory=dict)
    #: why this study's paper rows cannot be like-for-like, where its own setting says so
    unlike_paper: str | None = None
    #: the practical question the study answers on the home page ("Batch size")
    question: str | None = None
    #: the paper reports per-class results: its page shows precision/recall per class
    per_class: bool = False
    stages: tuple[Stage, ...] = ()  # growing search (architecture)
    kind: str = "train"  # train | hpo | table (a grid of runs for the tabular HPO benchmark)
    #                      | tabular (HPO searches replayed against a table)
    description: str = ""
    hpo: dict[str, Any] = field(default_factory=dict)  # space, trials, methods, target
    #: per-profile overrides of the profile's own scaling, e.g. {"quick": {"max_epochs": 8}}
    profile_caps: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the claims the study's paper (or study file) makes about it, e.g. ({"kind":
    #: "best_level", "level": "adam"},); the catalogue's carry an ``id`` and a ``text``
    claims: tuple[dict[str, Any], ...] = ()
    #: a study file's content (stored in the result set's manifest for the site)
    definition: dict[str, Any] | None = None
    #: profiles whose ``bench all`` runs this study (None: every profile); ``bench run``
    #: runs it under any profile
    in_all: tuple[str, ...] | None = None

    def in_bench_all(self, profile: Profile) -> bool:
        return self.in_all is None or profile.name in self.in_all

    def scaled(self, profile: Profile) -> Profile:
        """The profile with this study's caps applied."""
        caps = self.profile_caps.get(profile.name)
        return replace(profile, **caps) if caps else profile

    # -- expansion ---------------------------------------------------------------
    def grid(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        """(factor labels, RunSpec changes) for every cell of the factor grid."""
        cells = []
        per_factor = [f.expand() for f in self.factors] or [[("", {})]]
        for combo in itertools.product(*per_factor):
            labels = {f.name: label for f, (label, _) in zip(self.factors, combo, strict=False)}
            cells.append((labels, compose(self.factors, combo)))
        return cells

    def spec(self, profile: Profile, seed: int, changes: dict[str, Any],
             labels: dict[str, str], base: dict[str, Any] | None = None) -> RunSpec:
        """One RunSpec for a grid cell under ``profile``."""
        profile = self.scaled(profile)
        settings = {**self.base, **(base or {}), **changes}
        below = {**self.base, **(base or {})}.get("arch")
        if isinstance(changes.get("arch"), dict) and isinstance(below, dict) \
                and "kind" not in changes["arch"]:
            settings["arch"] = {**below, **changes["arch"]}  # a partial architecture refines
        RunSpec(study=self.name, **settings).validate()  # as written, before any scaling
        nominal_fraction = settings.get("fraction", 1.0)
        settings["fraction"] = min(1.0, nominal_fraction * profile.data_scale)
        settings["epochs"] = profile.epochs(settings.get("epochs", 5))
        settings["test_fraction"] = min(settings.get("test_fraction", 1.0), profile.test_fraction)
        labels, nominal = self._trained_labels(labels, settings)
        settings.setdefault("test_curve", bool(self.curve or self.report_epoch))
        factors = dict(labels)
        if len(labels) == 1:
            (name, label), = labels.items()
            factors = {"factor": name, "level": label}
        elif labels:
            factors = {"factor": "+".join(labels), "level": "|".join(labels.values()), **labels}
        factors["profile"] = profile.name
        factors.update({f"{name}_nominal": label for name, label in nominal.items()})
        spec = RunSpec(study=self.name, seed=seed, factors=factors, **settings)
        return spec.validate()

    def _trained_labels(self, labels: dict[str, str],
                        settings: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        """Labels of scaled factors (epochs, fraction) as trained; the nominal ones apart."""
        out, nominal = dict(labels), {}
        for factor in self.factors:
            target = factor.name if factor.field is None else factor.field
            if target in SCALED_FIELDS and factor.name in labels:
                trained = f"{settings[target]:g}"
                if trained != labels[factor.name]:
                    nominal[factor.name] = labels[factor.name]
                    out[factor.name] = trained
        return out, nominal

    def expand(self, profile: Profile, seeds: list[int],
               base: dict[str, Any] | None = None) -> list[RunSpec]:
        """Every RunSpec of the grid for ``seeds`` (stages are expanded by the runner)."""
        return [self.spec(profile, seed, changes, labels, base)
                for labels, changes in self.grid() for seed in seeds]

    def curve_levels(self, profile: Profile) -> list[int]:
        profile = self.scaled(profile)
        return sorted({profile.epochs(e) for e in self.curve})

    def scored_epoch(self, profile: Profile) -> int | None:
        profile = self.scaled(profile)
        return profile.epochs(self.report_epoch) if self.report_epoch else None

    def seeds(self, profile: Profile) -> int:
        """Seeds per configuration under ``profile`` (after this study's caps)."""
        return self.scaled(profile).seeds


class Registry:
    """Name -> Study, in declaration order."""

    def __init__(self) -> None:
        self._studies: dict[str, Study] = {}

    def add(self, study: Study) -> Study:
        if study.name in self._studies:
            raise BenchError(f"study {study.name!r} declared twice")
        self._studies[study.name] = study
        return study

    def get(self, name: str) -> Study:
        if name not in self._studies:
            raise unknown_name("study", name, list(self._studies))
        return self._studies[name]

    def names(self) -> list[str]:
        return list(self._studies)

    def __iter__(self):
        return iter(self._studies.values())
