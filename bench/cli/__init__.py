"""The ``bench`` command line: one module per command (asv style)."""

from __future__ import annotations

import os
import sys

import typer

from bench.errors import BenchError

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.cli import (  # noqa: E402,F401  (each module registers its command)
    all_cmd,
    compact_cmd,
    list_cmd,
    perf_cmd,
    run_cmd,
    site_cmd,
    status_cmd,
)
from bench.cli.app import app  # noqa: E402


def _exit_on_ctrl_c() -> None:
    """The work is done and recorded: a Ctrl-C while the interpreter shuts down (worker
    processes joined, the framework unloaded) ends the process now, without a traceback."""
    import contextlib
    import os
    import signal

    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.suppress(ValueError):  # not the main thread (a test calls the CLI)
        signal.signal(signal.SIGINT, lambda *_: os._exit(130))


def main() -> None:
    """Entry point: user errors become one line on stderr and exit code 2."""
    try:
        code = app(standalone_mode=False)  # click returns Exit codes in this mode
        _exit_on_ctrl_c()
        sys.exit(code if isinstance(code, int) else 0)
    except BenchError as exc:
        print("error: " + " ".join(str(exc).split()), file=sys.stderr)  # always one line
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors (typer may vendor its own click)
        if any(cls.__name__ == "ClickException" for cls in type(exc).__mro__):
            exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
