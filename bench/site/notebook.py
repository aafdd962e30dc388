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


def execute_notebook(path: Path, timeout_s: int = 600) -> None:
    """Run every cell of ``path`` with its folder as working directory; store the outputs in
    place. A cell that raises fails the build with the cell's error."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    for attempt in range(1, STARTS + 1):
        nb = nbformat.read(path, as_version=4)
        with tempfile.TemporaryDirectory(prefix="bench-kernel-") as sockets:
            km = KernelManager(kernel_name="python3", transport="ipc",
                               connection_file=str(Path(sockets) / "kernel.json"))
            client = NotebookClient(nb, km=km, timeout=timeout_s, allow_errors=False,
                                    resources={"metadata": {"path": str(path.parent)}})
            try:
                client.execute()
            except CellExecutionError as exc:
                raise BenchError(f"the site's notebook failed: {exc.ename}: {exc.evalue}") \
                    from exc
            except RuntimeError as exc:  # "Kernel died before replying to kernel_info"
                if "Kernel died" not in str(exc) or attempt == STARTS:
                    raise BenchError(f"the site's notebook could not start a kernel "
                                     f"({attempt} tries): {exc}") from exc
                continue
            finally:  # the client shuts down only kernels it made itself
                if km.has_kernel:
                    km.shutdown_kernel(now=True)
        atomic_write_bytes(path, nbformat.writes(nb).encode())
        return
