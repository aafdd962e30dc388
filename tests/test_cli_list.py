"""``bench list``: every study and profile appears with run counts."""

from __future__ import annotations

from bench.studies import PROFILES, REGISTRY
from tests.helpers import bench


def test_narrow_or_piped_list_keeps_every_study_name_whole() -> None:
    out = bench("list", env={"COLUMNS": "80"})  # a pipe: rich falls back to COLUMNS
    assert out.returncode == 0, out.stderr
    for study in REGISTRY:
        assert study.name in out.stdout + out.stderr


def test_list_shows_all_studies_and_profiles() -> None:
    out = bench("list", env={"COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    for study in REGISTRY:
        assert study.name in text
    for profile in PROFILES:
        assert profile in text


def test_unknown_option_is_a_usage_error_without_traceback() -> None:
    out = bench("list", "--no-such-option")
    assert out.returncode == 2
    assert "No such option" in out.stderr and "Traceback" not in out.stderr
