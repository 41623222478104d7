"""GPU placement, tested on a faked device list: which worker gets which CUDA_VISIBLE_DEVICES.

No test pretends that a cell ran on a GPU: the cells here run on the CPU (CUDA_VISIBLE_DEVICES
names a card this machine does not have) and the records say so."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from regbench.run.devices import Gpu, parse_nvidia_smi, visible_gpus, worker_devices
from regbench.run.workers import plan_run

SMI = """0, GPU-aaaa, NVIDIA H100 80GB HBM3, 81559
1, GPU-bbbb, NVIDIA H100 80GB HBM3, 81559
2, GPU-cccc, NVIDIA A100-SXM4-40GB, [N/A]
"""


def test_nvidia_smi_rows_become_gpus():
    gpus = parse_nvidia_smi(SMI)
    assert [(g.index, g.uuid, g.memory_mib) for g in gpus] == [
        ("0", "GPU-aaaa", 81559), ("1", "GPU-bbbb", 81559), ("2", "GPU-cccc", None)
    ]  # fmt: skip
    assert gpus[2].name == "NVIDIA A100-SXM4-40GB"


@pytest.mark.parametrize(
    ("visible", "expected"),
    [(None, ["0", "1", "2"]), ("2,0", ["2", "0"]), ("GPU-bbbb", ["1"]), ("1,7", ["1"])],
)
def test_cuda_visible_devices_narrows_and_orders_the_gpus(visible, expected):
    assert [g.index for g in visible_gpus(parse_nvidia_smi(SMI), visible)] == expected


def test_cells_per_gpu_gives_each_gpu_k_worker_slots_interleaved():
    gpus = [Gpu("0", "a"), Gpu("1", "b")]
    assert worker_devices(gpus, 1) == ["0", "1"]
    # Interleaved, so the first workers to start spread over both cards.
    assert worker_devices(gpus, 3) == ["0", "1", "0", "1", "0", "1"]


def test_plan_uses_one_worker_per_gpu_slot_and_ignores_jobs_on_a_gpu_box():
    gpus = [Gpu("0", "a"), Gpu("1", "b"), Gpu("2", "c"), Gpu("3", "d")]
    plan = plan_run(jobs=2, gpus=gpus, cells_per_gpu=2)
    assert plan.workers == 8 and plan.devices == ("0", "1", "2", "3") * 2
    assert plan.describe() == "4 GPU(s), 2 cell(s) per GPU; local"
    cpu = plan_run(jobs=2, gpus=[], cells_per_gpu=4)
    assert cpu.workers == 2 and cpu.devices == ()
    assert plan_run(None, []).workers == 1


CLAIM = """
import sys, time
from regbench.run.devices import claim_device
print(claim_device(sys.argv[1], sys.argv[2].split(",")), flush=True)
time.sleep(60)
"""


def claimer(lock_dir: Path, devices: str) -> tuple[subprocess.Popen, str]:
    """A process that claims a slot and holds it; (process, the device it printed)."""
    proc = subprocess.Popen([sys.executable, "-c", CLAIM, str(lock_dir), devices], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def test_each_worker_process_claims_its_own_slot_and_a_dead_workers_slot_is_reused(tmp_path):
    procs = []
    try:
        for _ in range(3):
            procs.append(claimer(tmp_path, "0,1,0"))
        assert [device for _, device in procs] == ["0", "1", "0"]
        victim, device = procs.pop(1)
        victim.kill()
        victim.wait()
        time.sleep(0.1)
        procs.append(claimer(tmp_path, "0,1,0"))  # the replacement gets the dead worker's GPU
        assert procs[-1][1] == "1"
    finally:
        for proc, _ in procs:
            proc.kill()
            proc.wait()
            proc.stdout.close()


def test_local_workers_see_only_their_own_device(write_grid, tmp_path):
    from regbench.grid.expand import expand
    from regbench.grid.parse import load_spec
    from regbench.run.executors import results
    from regbench.run.workers import Plan
    from regbench.train.options import RunOptions

    cells = expand(load_spec(str(write_grid()))).cells
    plan = Plan(workers=2, devices=("7", "8"))  # cards this machine does not have: the cells use the CPU
    records = list(results(cells, RunOptions(), plan))
    assert all(r.status == "ok" and r.device.startswith("CPU") for r in records)
    device_of = {}
    for r in records:
        device_of.setdefault(r.worker["pid"], set()).add(r.worker["cuda_visible_devices"])
    assert all(len(devices) == 1 for devices in device_of.values())  # a worker keeps its device
    seen = [next(iter(d)) for d in device_of.values()]
    assert len(seen) == len(set(seen)) and set(seen) <= {"7", "8"}  # and no two workers share a slot
