"""`torch.compile` with a fallback: a module that cannot be compiled runs eagerly, with a warning."""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn


class CompiledCall:
    """Call `torch.compile(module)`; on the first failure warn once and call `module` eagerly from then on.

    Not an `nn.Module`: it owns no parameters, so state dicts and checkpoints are those of `module`
    (no `_orig_mod.` prefixes). The compiled callable is built on first use, after the module has
    been moved to its device.
    """

    def __init__(self, module: nn.Module, **compile_kwargs: Any) -> None:
        self.module = module
        self.compile_kwargs = compile_kwargs
        self.compiled: Any = None
        self.error: str | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.error is None:
            try:
                if self.compiled is None:
                    self.compiled = torch.compile(self.module, **self.compile_kwargs)
                return self.compiled(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (any compiler/backend failure: fall back, keep training)
                self.error = f"{type(exc).__name__}: {exc}"
                self.compiled = None
                warnings.warn(f"torch.compile failed, running eagerly instead ({self.error})", stacklevel=2)
        return self.module(*args, **kwargs)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "compiled": None}  # compiled graphs are rebuilt after unpickling
