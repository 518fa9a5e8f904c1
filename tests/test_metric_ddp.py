"""FreiHANDMetric under DDP: 2 gloo CPU processes fed by a DistributedSampler (which pads with repeated samples)
give the same numbers as one process, and the same as `freihand_scores` on the whole set."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.utils.data.distributed import DistributedSampler

from handmesh.metrics.freihand import ALL_KEYS, freihand_scores
from handmesh.metrics.metric import FreiHANDMetric

N_SAMPLES = 11  # odd: the sampler pads rank 1 with a repeat of sample 0


def _data() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    gt_verts = torch.randn(N_SAMPLES, 778, 3, generator=g, dtype=torch.float64) * 0.03 + torch.tensor([0, 0, 0.7])
    gt_xyz = gt_verts[:, :21] + 0.001
    noise = torch.randn(N_SAMPLES, 799, 3, generator=g, dtype=torch.float64) * 0.004
    return {
        "pred_xyz": (gt_xyz + noise[:, :21] + 0.01).float(),
        "pred_verts": (gt_verts + noise[:, 21:] + 0.01).float(),
        "gt_xyz": gt_xyz.float(),
        "gt_verts": gt_verts.float(),
    }


def _feed(metric: FreiHANDMetric, data: dict[str, torch.Tensor], indices: list[int], batch: int) -> None:
    for s in range(0, len(indices), batch):
        idx = torch.tensor(indices[s : s + batch])
        metric.update(data["pred_xyz"][idx], data["pred_verts"][idx], data["gt_xyz"][idx], data["gt_verts"][idx], idx)


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        data = _data()
        sampler = DistributedSampler(range(N_SAMPLES), num_replicas=world, rank=rank, shuffle=True, seed=3)
        indices = list(sampler)
        metric = FreiHANDMetric()
        _feed(metric, data, indices, batch=2 + rank)  # different batch sizes and batch counts per process
        scores = metric.compute()
        torch.save({"indices": indices, "scores": {k: float(v) for k, v in scores.items()}},
                   Path(out_dir) / f"rank{rank}.pt")  # fmt: skip
    finally:
        dist.destroy_process_group()


def test_two_processes_equal_one(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(2, str(tmp_path / "pg_init"), str(tmp_path)), nprocs=2, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    seen = results[0]["indices"] + results[1]["indices"]
    assert len(seen) == 12 and len(set(seen)) == N_SAMPLES  # one sample was fed twice (padding)

    data = _data()
    single = FreiHANDMetric()
    _feed(single, data, list(range(N_SAMPLES)), batch=4)
    one = {k: float(v) for k, v in single.compute().items()}
    direct = freihand_scores(data["pred_xyz"], data["pred_verts"], data["gt_xyz"], data["gt_verts"])
    assert set(one) == set(ALL_KEYS)
    for key in ALL_KEYS:
        assert one[key] == direct[key], key
        for r in range(2):
            assert results[r]["scores"][key] == one[key], (r, key)
    # without de-duplication the padded sample would count twice and change the numbers
    repeated = [i for i in set(seen) if seen.count(i) == 2]
    rows = torch.tensor([*range(N_SAMPLES), *repeated])
    biased = freihand_scores(*(data[k][rows] for k in ("pred_xyz", "pred_verts", "gt_xyz", "gt_verts")))
    assert biased["mesh_mean3d"] != one["mesh_mean3d"]


def test_reset_and_order_independence() -> None:
    data = _data()
    metric = FreiHANDMetric()
    _feed(metric, data, [5, 3, 3, 0, 1, 2, 4, 6, 7, 8, 9, 10, 10], batch=3)
    shuffled = {k: float(v) for k, v in metric.compute().items()}
    metric.reset()
    _feed(metric, data, list(range(N_SAMPLES)), batch=11)
    assert {k: float(v) for k, v in metric.compute().items()} == shuffled
