"""Per-epoch seeding: the randomness of training epoch `e` is a function of (seed, e) only.

Why: the random state that shuffles and augments epoch `e` is otherwise whatever the previous epochs
left in the global generators, and a checkpoint does not hold it. A run resumed at epoch `e` would
shuffle, augment and drop out differently from the uninterrupted run, so "kill and resume" could not
reproduce it. What is reseeded at the start of every training epoch:

- the global torch / numpy / `random` generators (dropout, anything else drawing from them);
- the training DataLoader's `RandomSampler` and the DataLoader itself (the worker base seed) get their
  own generators, so the order does not depend on draws made elsewhere;
- the training dataset's augmentation generator is dropped, so it is re-made from the new torch seed.

With `num_workers: 0` a resumed run is then bit-identical to an uninterrupted one (CPU, deterministic
mode; tested). With worker processes, runs with the same seed are still identical to each other, but a
resumed run is not bit-identical to an uninterrupted one: Lightning creates the first epoch's
iterator (which starts the workers and draws their seeds and first indices) before any epoch hook
runs, and persistent workers keep their augmentation generators for the whole run. Exactness there
needs the datamodule to seed its sampler and augmentation from (seed, epoch) itself.
"""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, RandomSampler


def epoch_seed(seed: int, epoch: int) -> int:
    """A 32-bit seed for `epoch` of a run seeded with `seed` (well mixed: nearby inputs give unrelated seeds)."""
    return int(np.random.SeedSequence([seed % 2**63, epoch]).generate_state(1)[0])


def _generator(seed: int) -> torch.Generator:
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def _base_datasets(dataset: Any) -> list[Any]:
    """`dataset` and the datasets it wraps (Subset, ConcatDataset)."""
    if hasattr(dataset, "datasets"):
        return [d for sub in dataset.datasets for d in _base_datasets(sub)]
    if hasattr(dataset, "dataset"):
        return [dataset, *_base_datasets(dataset.dataset)]
    return [dataset]


def _train_loaders(loaders: Any) -> list[DataLoader]:
    """The DataLoaders in `trainer.train_dataloader` (one, or a list/dict of them)."""
    if isinstance(loaders, dict):
        loaders = list(loaders.values())
    elif not isinstance(loaders, (list, tuple)):
        loaders = [loaders]
    return [loader for loader in loaders if isinstance(loader, DataLoader)]


def reset_augmentation_generator(dataset: Any) -> None:
    """Make the dataset re-create its augmentation generator from the current torch seed.

    `FreiHANDDataset` keeps one numpy generator per process, made from `torch.initial_seed()` on first
    use; dropping it is how its stream is restarted. A dataset with `set_epoch(epoch)` should be
    reseeded through that instead (see `EpochSeeding`).
    """
    for ds in _base_datasets(dataset):
        if hasattr(ds, "_rng"):
            ds._rng = None


class EpochSeeding(pl.Callback):
    """Reseed at the start of every training epoch from (seed, epoch); see the module docstring.

    Args:
        seed: the run's seed (None: the one `seed_everything` set, i.e. the CLI's `seed_everything`;
            without one, the torch seed of the process when fitting starts).
    """

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed
        self._run_seed: int | None = seed

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Take the run's seed (`seed_everything` sets `PL_GLOBAL_SEED`)."""
        if self.seed is None:
            self._run_seed = int(os.environ.get("PL_GLOBAL_SEED", torch.initial_seed()))

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Reseed the global generators, the sampler, the loader and the augmentation for this epoch."""
        seed = epoch_seed(self._run_seed if self._run_seed is not None else 0, trainer.current_epoch)
        torch.manual_seed(seed)
        np.random.seed(seed)  # noqa: NPY002 (the legacy global generator is what third-party code draws from)
        random.seed(seed)
        for loader in _train_loaders(trainer.train_dataloader):
            if isinstance(loader.sampler, RandomSampler):
                loader.sampler.generator = _generator(epoch_seed(seed, 1))
            loader.generator = _generator(epoch_seed(seed, 2))
            for ds in _base_datasets(loader.dataset):
                if hasattr(ds, "set_epoch"):
                    ds.set_epoch(trainer.current_epoch)
            reset_augmentation_generator(loader.dataset)
