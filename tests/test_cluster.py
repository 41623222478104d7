"""The Dask backend on a LocalCluster of worker processes on 127.0.0.1 (loopback only)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from regbench.cli import main
from tests.helpers import TINY_GRID, tiny_cell

distributed = pytest.importorskip("distributed")

# Four cells of a few seconds: two seeds, baseline and dropout (dropout draws Keras seeds).
GRID = TINY_GRID.replace("seeds = [1]", "seeds = [1, 2]").replace("epochs = 3", "epochs = {epochs}")


def stored(results: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(results.glob("*/cells/*.json"))}


@pytest.mark.slow
def test_local_cluster_gives_the_same_results_as_local_workers(write_grid, tmp_path):
    grid = str(write_grid(GRID.format(epochs=3)))
    local, dask = tmp_path / "local", tmp_path / "dask"
    assert main(["run", grid, "--jobs", "2", "--results", str(local), "--out", str(tmp_path / "r1")]) == 0
    argv = ["run", grid, "--executor", "dask", "--jobs", "2", "--results", str(dask), "--out", str(tmp_path / "r2")]
    assert main(argv) == 0
    a, b = stored(local), stored(dask)
    assert a.keys() == b.keys() and len(a) == 4
    for cell_id in a:
        assert a[cell_id]["final"] == b[cell_id]["final"]
        assert a[cell_id]["history"]["train"]["loss"] == b[cell_id]["history"]["train"]["loss"]
    workers = {r["worker"]["pid"] for r in b.values()}
    assert os.getpid() not in workers  # trained in the cluster's worker processes


@pytest.mark.slow
def test_a_worker_killed_mid_cell_is_replaced_and_every_cell_is_stored_once(write_grid, tmp_path, monkeypatch):
    from regbench.records.store import Store

    writes: list[str] = []
    write = Store.write
    monkeypatch.setattr(Store, "write", lambda self, record: writes.append(record.cell_id) or write(self, record))
    grid = str(write_grid(GRID.format(epochs=40)))
    results = tmp_path / "results"
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        argv = ["run", grid, "--scheduler", cluster.scheduler_address, "--results", str(results)]
        outcome = {}
        runner = threading.Thread(target=lambda: outcome.update(rc=main([*argv, "--out", str(tmp_path / "r")])))
        runner.start()
        killed = kill_a_busy_worker(client)
        runner.join(timeout=300)
    assert outcome == {"rc": 0}
    records = stored(results)
    assert len(records) == 4 and all(r["status"] == "ok" for r in records.values())
    assert sorted(writes) == sorted(records)  # each cell written exactly once
    assert killed not in {r["worker"]["pid"] for r in records.values()}


def kill_a_busy_worker(client, settle_s: float = 1.5) -> int:
    """SIGKILL a worker process that has been running a cell for `settle_s`; its pid."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        busy = [addr for addr, keys in client.processing().items() if keys]
        if busy:
            time.sleep(settle_s)  # well inside the cell: TensorFlow starts, then 40 epochs
            pids = client.run(os.getpid, workers=busy[:1])
            pid = pids[busy[0]]
            os.kill(pid, signal.SIGKILL)
            return pid
        time.sleep(0.1)
    raise AssertionError("no worker started a cell within 120 s")


def test_an_unreachable_scheduler_is_a_one_line_error(write_grid, tmp_path, capsys):
    import dask

    grid = str(write_grid(GRID.format(epochs=1)))
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        rc = main(["run", grid, "--scheduler", "tcp://127.0.0.1:9", "--results", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "\n" not in err
    assert "--scheduler tcp://127.0.0.1:9: no Dask scheduler answers there" in err
    assert not list(tmp_path.glob("*/cells/*.json"))


def test_without_dask_or_dask_cuda_the_error_says_what_to_install(monkeypatch, write_grid, tmp_path, capsys):
    from regbench.errors import UsageError
    from regbench.run.executors import results
    from regbench.run.workers import Plan
    from regbench.train.options import RunOptions

    monkeypatch.setitem(sys.modules, "dask_cuda", None)  # a GPU box without dask-cuda
    with pytest.raises(UsageError, match=r"needs dask-cuda; allowed: `pip install dask-cuda`"):
        results([tiny_cell()], RunOptions(), Plan(workers=2, devices=("0", "1"), executor="dask"))
    monkeypatch.setitem(sys.modules, "distributed", None)  # no dask at all
    grid = str(write_grid(GRID.format(epochs=1)))
    assert main(["run", grid, "--backend", "dask", "--results", str(tmp_path)]) == 2  # the old name still works
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0] == "note: --backend is now --executor (--executor dask)"
    assert (
        lines[-1].startswith("regbench: error: --executor dask needs dask.distributed")
        and "regbench[dask]" in lines[-1]
    )
    assert not list(tmp_path.glob("*/cells/*.json"))


def test_a_tls_scheduler_takes_dasks_own_config_and_no_option_of_regbench(tmp_path, capsys):
    """`--scheduler tls://host:port` with Dask's distributed.comm.tls.* config (or its
    DASK_DISTRIBUTED__COMM__TLS__* variables) connects over TLS; without the certificates the
    connection is refused in one line (README: Security)."""
    import shutil
    import subprocess

    import dask

    from regbench.errors import UsageError
    from regbench.run.cluster import connect
    from regbench.run.workers import Plan

    if not shutil.which("openssl"):
        pytest.skip("openssl makes the test's certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"  # self-signed: its own CA
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    roles = {f"tls_{role}_{part}": str(path) for role in ("scheduler", "worker", "client")
             for part, path in (("key", key), ("cert", cert))}  # fmt: skip
    security = distributed.Security(tls_ca_file=str(cert), require_encryption=True, **roles)
    with distributed.LocalCluster(n_workers=0, protocol="tls://", host="127.0.0.1", security=security,
                                  dashboard_address=None) as cluster:  # fmt: skip
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        config = {"distributed.comm.tls.ca-file": str(cert), "distributed.comm.tls.client.cert": str(cert),
                  "distributed.comm.tls.client.key": str(key), "distributed.comm.timeouts.connect": "5s"}  # fmt: skip
        with dask.config.set(config), connect(Plan(executor="dask", scheduler=address)) as client:
            assert client.scheduler_info()["address"] == address
        with dask.config.set({"distributed.comm.timeouts.connect": "3s"}), pytest.raises(UsageError) as refused:
            with connect(Plan(executor="dask", scheduler=address)):
                pass
        assert f"--scheduler {address}: TLS needs Dask's certificates" in str(refused.value)
        assert "\n" not in str(refused.value)
