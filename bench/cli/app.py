"""The Typer application every command module registers on."""

from __future__ import annotations

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Benchmark deep-learning hyper-parameters and HPO libraries on MNIST / Fashion-MNIST.",
    pretty_exceptions_enable=False,
)
