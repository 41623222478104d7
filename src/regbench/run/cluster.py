"""Cells on a dask.distributed cluster: an existing scheduler, a LocalCluster, or one worker per GPU
from dask-cuda's LocalCUDACluster. Needs the `dask` extra (`pip install "regbench[dask]"`).

Workers return each record to this process, which writes it: no shared file system is needed. A
worker that dies mid-cell is replaced and its cell rerun elsewhere by the scheduler, up to Dask's
`distributed.scheduler.allowed-failures` times (default 3); after that the cell is stored as failed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from regbench.errors import UsageError
from regbench.grid.cell import Cell
from regbench.records.result import Result
from regbench.run.answers import accepted
from regbench.run.workers import Plan, run_in_worker, threads_per_worker
from regbench.train.options import RunOptions
from regbench.train.runner import empty_record


def import_distributed():
    try:
        import distributed
    except ImportError:
        raise UsageError(
            '--executor dask needs dask.distributed; allowed: install it with `pip install "regbench[dask]"`'
        ) from None
    return distributed


@contextlib.contextmanager
def connect(plan: Plan) -> Iterator[Any]:
    """A distributed Client: to `plan.scheduler`, else to a cluster started here and closed after."""
    distributed = import_distributed()
    if plan.scheduler:
        check_tls(distributed, plan.scheduler)
        try:  # waits distributed.comm.timeouts.connect (Dask's config, 30 s by default)
            client = distributed.Client(plan.scheduler)
        except (OSError, ValueError, TypeError) as exc:
            raise UsageError(
                f"--scheduler {plan.scheduler}: no Dask scheduler answers there ({exc}); allowed: the address "
                "`dask scheduler` prints, e.g. tcp://10.0.0.5:8786"
            ) from None
        with client:
            yield client
        return
    with local_cluster(distributed, plan) as cluster, distributed.Client(cluster) as client:
        yield client


def check_tls(distributed, address: str) -> None:
    """A tls:// scheduler is reached with Dask's own TLS settings (distributed.comm.tls.ca-file,
    .client.cert, .client.key: its config files or DASK_DISTRIBUTED__COMM__TLS__* variables), which
    distributed.Client reads itself: regbench needs no option of its own. Without them, one line."""
    if not address.startswith("tls://"):
        return
    security = distributed.Security()
    if not (security.tls_ca_file and security.tls_client_cert):
        raise UsageError(
            f"--scheduler {address}: TLS needs Dask's certificates; allowed: set distributed.comm.tls.ca-file, "
            ".client.cert and .client.key in Dask's config (or DASK_DISTRIBUTED__COMM__TLS__CA_FILE, "
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT, DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY)"
        )


def local_cluster(distributed, plan: Plan):
    """One single-threaded worker process per GPU (dask-cuda pins each to its card) or per `workers`."""
    if plan.devices:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError:
            raise UsageError(
                "--executor dask on a GPU box needs dask-cuda; allowed: `pip install dask-cuda`, or run without "
                "--executor dask (joblib workers pinned to each GPU)"
            ) from None
        return LocalCUDACluster(
            CUDA_VISIBLE_DEVICES=",".join(dict.fromkeys(plan.devices)), threads_per_worker=1, dashboard_address=None
        )
    return distributed.LocalCluster(
        n_workers=plan.workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )


def dask_results(cells: list[Cell], options: RunOptions, plan: Plan) -> Iterator[Result]:
    """Result records of `cells` in the order the cluster finishes them. Connects now; the client
    (and a cluster started here) closes when the records run out."""
    if not cells:  # nothing left to run: no connection, no cluster to start
        return iter(())
    stack = contextlib.ExitStack()
    client = stack.enter_context(connect(plan))
    if not plan.scheduler:  # our own workers share this machine's cores
        options = replace(options, threads=options.threads or threads_per_worker(plan.workers))
    return finished(stack, client, cells, options)


def finished(stack: contextlib.ExitStack, client, cells: list[Cell], options: RunOptions) -> Iterator[Result]:
    from distributed import as_completed

    with stack:
        run = uuid.uuid4().hex[:8]  # task keys unique per run: a cluster keeps finished keys a while
        futures = {
            client.submit(run_in_worker, cell, options, key=f"regbench-{cell.slug}-{cell.cell_id}-{run}"): cell
            for cell in cells
        }
        for future in as_completed(futures):
            yield collect(future, futures.pop(future), options)


def collect(future, cell: Cell, options: RunOptions) -> Result:
    """The record a finished future holds, if it is one of `cell` (else a failed record of `cell`);
    a cell whose workers kept dying becomes a failed record (so the grid goes on and a rerun with
    --retry-failed tries it again)."""
    from distributed import KilledWorker

    try:
        return accepted(cell, future.result(), options)  # what the worker sent, checked against `cell`
    except KilledWorker as exc:
        error = f"KilledWorker: the workers running this cell died each time ({exc})"
        return empty_record(cell, options, "failed", error)
