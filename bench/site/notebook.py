"""Execute the site's notebook against the tables it publishes, before MkDocs renders it.

MkDocs-Jupyter could execute it, but its kernel talks over TCP ports it picks and releases
before the kernel binds them: two builds at once (CI, a user's two result sets) can pick the
same port and the kernel dies at start-up. Here the kernel talks over IPC sockets in a private
folder, so builds cannot collide, and a kernel that still dies at start-up is retried.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bench.errors import BenchError
from bench.store import atomic_write_bytes

#: kernel start-ups tried before the build fails (a start-up, not the notebook, failing)
STARTS = 3
#: a Unix socket path holds at most 107 bytes (103 on macOS); the kernel's sockets take
#: ``<folder>/kernel-ipc-N`` inside a ``bk-XXXXXXXX`` folder, about 30 bytes past the base
SOCKET_BASE_MAX = 70


def _socket_base() -> str:
    """The temporary folder when its path leaves room for a socket path, else /tmp."""
    base = tempfile.gettempdir()
    if len(base) <= SOCKET_BASE_MAX:
        return base
    if Path("/tmp").is_dir():
        return "/tmp"
    raise BenchError(f"temporary folder {base} is too long for the notebook kernel's sockets; "
                     "set TMPDIR to a shorter path")


def execute_notebook(path: Path, timeout_s: int = 600) -> None:
    """Run every cell of ``path`` with its folder as working directory; store the outputs in
    place. A cell that raises, runs past ``timeout_s`` or kills its kernel fails the build with
    a one-line error and leaves the file as it was."""
    import nbformat
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    path = Path(path)
    for attempt in range(1, STARTS + 1):
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory(prefix="bk-", dir=_socket_base()) as sockets:
            km = AsyncKernelManager(kernel_name="python3", transport="ipc",
                                    connection_file=str(Path(sockets) / "kernel.json"))
            client = NotebookClient(nb, km=km, timeout=timeout_s, allow_errors=False,
                                    resources={"metadata": {"path": str(path.parent)}})
            try:  # cleanup_kc: stop the channels and the kernel although we made the manager
                client.execute(cleanup_kc=True)
            except CellExecutionError as exc:
                raise BenchError(f"the site's notebook failed: {exc.ename}: {exc.evalue}") \
                    from exc
            except CellTimeoutError as exc:
                raise BenchError(f"a cell of the site's notebook ran past {timeout_s} s") from exc
            except DeadKernelError as exc:
                raise BenchError("the site's notebook killed its kernel (out of memory?)") \
                    from exc
            except RuntimeError as exc:
                if "before replying to kernel_info" not in str(exc) or attempt == STARTS:
                    raise BenchError(f"the site's notebook could not start a kernel "
                                     f"({attempt} tries): {exc}") from exc
                continue
            except Exception as exc:  # zmq or kernelspec errors: one line, not a traceback
                raise BenchError(f"the site's notebook could not run: {type(exc).__name__}: "
                                 f"{exc}") from exc
        atomic_write_bytes(path, nbformat.writes(nb).encode())
        return
