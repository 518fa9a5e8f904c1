"""LightningDataModule over FreiHAND-layout data (configured from YAML by LightningCLI)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Subset

from handmesh.data.augment import DEFAULT_AUGMENT, AugmentConfig
from handmesh.data.freihand import FreiHANDDataset
from handmesh.data.image_folder import ImageFolderDataset
from handmesh.data.synthetic import SyntheticSpec, ensure_synthetic
from handmesh.mano.constants import FREIHAND_VERSIONS


class FreiHANDDataModule(pl.LightningDataModule):
    """Train on a FreiHAND root's training split; validate/test on its evaluation split by default.

    Args:
        root: FreiHAND root (real or synthetic, same layout).
        input_size: side of the square network input.
        batch_size: per device (per GPU under DDP).
        eval_batch_size: batch size of val/test/predict (None: `batch_size`).
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory (only used when CUDA is available).
        persistent_workers: keep workers alive between epochs (only when num_workers > 0).
        prefetch_factor: batches each worker loads ahead (only when num_workers > 0).
        versions: training versions ("gs", "hom", "sample", "auto").
        augment: training augmentation (None: none); val/test/predict are never augmented.
        val_split, test_split: "evaluation" or "training".
        val_limit: validate on only the first N samples of the val split (None: all).
        return_mask: also load masks for training.
        skip_bad: replace missing/corrupt images by other samples with a warning instead of failing.
        predict_root: a plain folder of hand crops to predict on (None: predict on the test split).
        predict_K: (3, 3) intrinsics of the predict_root images (None: a FreiHAND-like default).
        drop_last: drop the last incomplete training batch.
        synthetic: make a synthetic set at `root` first (in `prepare_data`) unless a complete one with these
            parameters is there, e.g. YAML `synthetic: {train: 600, eval: 200, seed: 0}`. None: use `root` as is.
    """

    def __init__(
        self,
        root: str = "data/FreiHAND_pub_v2",
        input_size: int = 224,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 4,
        pin_memory: bool = True,
        persistent_workers: bool = True,
        prefetch_factor: int = 2,
        versions: list[str] | tuple[str, ...] = FREIHAND_VERSIONS,
        augment: AugmentConfig | None = DEFAULT_AUGMENT,
        val_split: str = "evaluation",
        test_split: str = "evaluation",
        val_limit: int | None = None,
        return_mask: bool = False,
        skip_bad: bool = False,
        predict_root: str | None = None,
        predict_K: list[list[float]] | None = None,
        drop_last: bool = True,
        synthetic: SyntheticSpec | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.root = Path(root)
        self.input_size = input_size
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.versions = tuple(versions)
        self.augment = augment
        self.val_split, self.test_split, self.val_limit = val_split, test_split, val_limit
        self.return_mask, self.skip_bad, self.drop_last = return_mask, skip_bad, drop_last
        self.predict_root, self.predict_K = predict_root, predict_K
        self.synthetic = synthetic
        self._datasets: dict[str, Dataset] = {}

    def dataset(self, split: str, augment: AugmentConfig | None = None, return_mask: bool = False) -> FreiHANDDataset:
        """A FreiHANDDataset of this root and input size."""
        return FreiHANDDataset(
            self.root, split, self.versions, self.input_size, augment, return_mask=return_mask, skip_bad=self.skip_bad
        )

    def prepare_data(self) -> None:
        """Generate the synthetic set at `root` if `synthetic` is given and no complete one is there (rank 0 only)."""
        if self.synthetic is not None:
            spec = self.synthetic
            ensure_synthetic(self.root, spec.train, spec.eval, spec.seed, spec.mano_path)

    def setup(self, stage: str | None = None) -> None:
        """Build the datasets a stage needs (reads and caches the annotation JSON once)."""
        if stage in (None, "fit") and "train" not in self._datasets:
            self._datasets["train"] = self.dataset("training", self.augment, self.return_mask)
        if stage in (None, "fit", "validate") and "val" not in self._datasets:
            val: Dataset = self.dataset(self.val_split)
            if self.val_limit is not None:
                val = Subset(val, range(min(self.val_limit, len(val))))  # type: ignore[arg-type]
            self._datasets["val"] = val
        if stage in (None, "test") and "test" not in self._datasets:
            self._datasets["test"] = self.dataset(self.test_split)
        if stage in (None, "predict") and "predict" not in self._datasets:
            self._datasets["predict"] = (
                ImageFolderDataset(self.predict_root, self.input_size, self.predict_K)
                if self.predict_root
                else self.dataset(self.test_split)
            )

    @property
    def skipped(self) -> dict[str, int]:
        """Bad samples replaced so far (with `skip_bad`), per stage ("train", "val", ...), all workers together."""
        counts = {}
        for name, ds in self._datasets.items():
            base = ds.dataset if isinstance(ds, Subset) else ds
            if isinstance(base, FreiHANDDataset):
                counts[name] = base.skipped
        return counts

    def teardown(self, stage: str | None = None) -> None:
        """Report how many bad samples were skipped (a warning naming the root), if any."""
        bad = {name: n for name, n in self.skipped.items() if n}
        if bad:
            summary = ", ".join(f"{n} in {name}" for name, n in bad.items())
            warnings.warn(f"skipped bad samples of {self.root} (skip_bad=True): {summary}", stacklevel=2)

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        if name not in self._datasets:
            self.setup({"train": "fit", "val": "validate"}.get(name, name))
        workers = self.num_workers
        return DataLoader(
            self._datasets[name],
            batch_size=self.batch_size if shuffle else self.eval_batch_size,
            shuffle=shuffle,
            drop_last=self.drop_last and shuffle,
            num_workers=workers,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.persistent_workers and workers > 0,
            prefetch_factor=self.prefetch_factor if workers > 0 else None,
        )

    def train_dataloader(self) -> DataLoader:
        """Shuffled, augmented training batches."""
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        """Validation batches (in split order)."""
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        """Test batches (in split order, e.g. for a submission)."""
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        """Batches of `predict_root` images, or of the test split."""
        return self._loader("predict", shuffle=False)
