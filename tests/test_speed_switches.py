"""Training speed switches on CPU: torch.compile (with its eager fallback) and channels-last."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from synthetic_set import synthetic_root  # noqa: F401 (fixture)
from torch import nn

from handmesh.lightning_module import HandMeshModule
from handmesh.model.compile import CompiledCall

SIZE = 64


def _module(standin_path: Path, **kwargs: object) -> HandMeshModule:
    torch.manual_seed(0)
    return HandMeshModule(
        encoder="fastvit_t8", pretrained=False, mano_path=str(standin_path), input_size=SIZE, head_hidden=64, **kwargs
    )


def _batch(n: int = 2) -> dict[str, torch.Tensor]:
    K = torch.tensor([[150.0, 0, 32], [0, 150.0, 32], [0, 0, 1]]).expand(n, 3, 3).clone()
    return {"image": torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1)), "K": K}


def test_compiled_call_matches_eager() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    call = CompiledCall(net, backend="aot_eager")  # traced and run through AOTAutograd, no C compiler needed
    x = torch.randn(5, 8)
    assert torch.allclose(call(x), net(x), atol=1e-6)
    assert call.error is None and call.compiled is not None


def test_compile_failure_falls_back_to_eager_with_a_warning() -> None:
    net = nn.Linear(4, 2)
    call = CompiledCall(net, backend="no_such_backend")
    x = torch.randn(3, 4)
    with pytest.warns(UserWarning, match="torch.compile failed, running eagerly"):
        out = call(x)
    assert torch.equal(out, net(x)) and call.error is not None
    call(x)  # no second attempt, no second warning
    assert call.compiled is None


def test_switches_change_neither_the_checkpoint_nor_the_outputs(standin_path: Path) -> None:
    plain = _module(standin_path).eval()
    fast = _module(standin_path, channels_last=True, compile=True).eval()
    assert plain.state_dict().keys() == fast.state_dict().keys()  # no `_orig_mod.` or wrapper prefixes
    fast.load_state_dict(plain.state_dict())
    fast._compiled_net = CompiledCall(fast.net, backend="aot_eager")  # the default inductor needs minutes on CPU
    batch = _batch()
    with torch.no_grad():
        a, b = plain.forward_step(batch), fast.forward_step(batch)
    assert torch.allclose(a.vertices, b.vertices, atol=1e-4) and torch.allclose(a.cam, b.cam, atol=1e-4)
    assert fast._compiled_net.error is None


def test_optimizer_is_adam_with_the_step_schedule(standin_path: Path) -> None:
    module = _module(standin_path, lr=3e-4, lr_milestones=[2, 4], lr_gamma=0.5)
    conf = module.configure_optimizers()
    opt, sched = conf["optimizer"], conf["lr_scheduler"]["scheduler"]
    assert isinstance(opt, torch.optim.Adam) and not opt.defaults["fused"]  # fused only with CUDA parameters
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([3e-4, 3e-4, 1.5e-4, 1.5e-4, 7.5e-5])


def test_bf16_mixed_precision_runs_the_encoder_in_bf16_and_the_geometry_in_float32(standin_path: Path) -> None:
    module = _module(standin_path)
    seen: dict[str, torch.dtype] = {}

    def record(name: str, attribute: str | None = None):  # a forward hook that records an output's dtype
        def hook(module: nn.Module, inputs: object, out: object) -> None:
            seen.setdefault(name, (getattr(out, attribute) if attribute else out).dtype)

        return hook

    module.net.encoder.register_forward_hook(record("features"))
    module.net.hand_model.register_forward_hook(record("vertices", "vertices"))
    with torch.autocast("cpu", dtype=torch.bfloat16):  # what Lightning's precision="bf16-mixed" does on a CPU
        pred = module.forward_step(_batch())
    assert seen == {"features": torch.bfloat16, "vertices": torch.float32}
    assert pred.vertices.dtype == torch.float32 and torch.isfinite(pred.vertices).all()
    with torch.no_grad():
        plain = module.forward_step(_batch())
    assert (pred.vertices - plain.vertices).abs().max() < 5e-3  # bf16 encoder: close, not equal


def test_trainer_steps_in_bf16_mixed_precision(standin_path: Path, synthetic_root: Path) -> None:  # noqa: F811
    import pytorch_lightning as pl

    from handmesh.data.datamodule import FreiHANDDataModule

    module = _module(standin_path)
    before = [p.detach().clone() for p in module.parameters()]
    data = FreiHANDDataModule(str(synthetic_root), input_size=SIZE, batch_size=4, num_workers=0, val_limit=2)
    trainer = pl.Trainer(accelerator="cpu", precision="bf16-mixed", max_epochs=1, limit_train_batches=2, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)  # fmt: skip
    trainer.fit(module, datamodule=data)
    assert trainer.global_step == 2
    assert all(p.dtype == torch.float32 for p in module.parameters())  # master weights stay float32
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters(), strict=True))
    assert torch.isfinite(trainer.callback_metrics["val/pa_mpjpe_mm"])
