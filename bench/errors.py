"""Errors a user can fix: the CLI prints them as one line and exits with code 2."""


class BenchError(Exception):
    """Bad input or environment (unknown name, bad file, missing dataset...)."""


def unknown_name(kind: str, name: str, valid: list[str] | tuple[str, ...]) -> BenchError:
    """The standard "unknown X" error, listing the valid names."""
    return BenchError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(valid))}")
