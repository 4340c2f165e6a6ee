"""Torch data pipeline: patches -> augmentation (uint8) -> the recorded preprocessing -> tensors.

Augmentations act on the 8-bit patch, before the model's :class:`Preprocessing`, so training
sees exactly what evaluation, export and scanning see. They are the ones that suit mammogram
patches: a patch has no canonical orientation (flips and 90-degree rotations are exact), and
exposure and detector noise vary between systems (mild gamma and intensity jitter, Gaussian
noise; ``noise_max`` draws each patch's noise level from a range, so one model meets clean and noisy
detectors alike). Nothing that would blur or rescale a 2-5 pixel microcalcification.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from microcalc.imaging.patches import fit_patch, read_patch
from microcalc.preprocessing import Preprocessing
from microcalc.trainer.data import PatchSet, load_patches

PRELOAD_BYTES = 2 << 30  # patch sets smaller than this are read once and kept in memory


@dataclass(frozen=True)
class Augment:
    """Augmentation strengths; ``Augment.off()`` for evaluation."""

    flips: bool = True
    rot90: bool = True
    gamma: float = 0.15  # gamma drawn from [1 - g, 1 + g]
    intensity: float = 0.1  # gain drawn from [1 - i, 1 + i]
    noise_std: float = 3.0  # Gaussian noise, in 8-bit grey levels
    noise_max: float = 0.0  # Gaussian noise of a standard deviation drawn from [0, noise_max] per patch

    @classmethod
    def off(cls) -> Augment:
        return cls(flips=False, rot90=False, gamma=0.0, intensity=0.0, noise_std=0.0)

    @classmethod
    def geometric(cls) -> Augment:
        """Flips and 90-degree rotations only: exact for a patch, they never change its grey levels."""
        return cls(gamma=0.0, intensity=0.0, noise_std=0.0)

    def __call__(self, img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Augment one uint8 ``[P, P]`` patch; returns a new uint8 array (the input is not modified)."""
        out = img
        if self.flips and rng.random() < 0.5:
            out = out[:, ::-1]
        if self.flips and rng.random() < 0.5:
            out = out[::-1, :]
        if self.rot90:
            out = np.rot90(out, k=int(rng.integers(4)))
        if self.gamma <= 0 and self.intensity <= 0 and self.noise_std <= 0 and self.noise_max <= 0:
            return np.ascontiguousarray(out)
        x = out.astype(np.float32) / 255.0
        if self.gamma > 0:
            x = x ** np.float32(rng.uniform(1 - self.gamma, 1 + self.gamma))
        if self.intensity > 0:
            x = x * np.float32(rng.uniform(1 - self.intensity, 1 + self.intensity))
        x = x * 255.0
        std = self.noise_std + (rng.uniform(0.0, self.noise_max) if self.noise_max > 0 else 0.0)
        if std > 0:
            x = x + rng.normal(0.0, std, size=x.shape).astype(np.float32)
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)


class PatchDataset(Dataset):
    """``(input [C, P, P] float32, label)`` pairs; small sets are preloaded, large ones read lazily."""

    def __init__(
        self,
        patch_set: PatchSet,
        *,
        size: int,
        policy: str,
        preprocessing: Preprocessing,
        augment: Augment | None = None,
        seed: int = 0,
    ) -> None:
        self.patch_set = patch_set
        self.size = size
        self.policy = policy
        self.preprocessing = preprocessing
        self.augment = augment or Augment.off()
        self.seed = seed
        self.epoch = 0
        fits = len(patch_set) * size * size <= PRELOAD_BYTES
        self.pixels = load_patches(patch_set, size=size, policy=policy) if fits else None
        self.labels = patch_set.labels

    def set_epoch(self, epoch: int) -> None:
        """New augmentation draws each epoch, reproducible from the seed."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.patch_set)

    def raw(self, index: int) -> np.ndarray:
        if self.pixels is not None:
            return self.pixels[index]
        sample = self.patch_set.samples[index]
        return fit_patch(read_patch(sample.path), size=self.size, policy=self.policy, path=sample.path)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        img = self.augment(self.raw(index), rng)
        x = self.preprocessing.apply(img[None, None])[0]
        return torch.from_numpy(x), int(self.labels[index])


class BalancedSampler(Sampler[int]):
    """Class-balanced sampling with replacement, sharded across DDP ranks.

    Each class is drawn with equal probability, so a rare cluster class is not drowned out. All
    ranks draw the same sequence from ``(seed, epoch)`` and keep every ``world``-th index from
    ``rank``, which gives disjoint shards without communication (what DistributedSampler does).
    """

    def __init__(
        self, labels: np.ndarray, *, seed: int, balanced: bool = True, rank: int = 0, world: int = 1
    ) -> None:
        self.labels = np.asarray(labels)
        self.seed, self.balanced, self.rank, self.world = seed, balanced, rank, world
        self.epoch = 0
        self.per_rank = -(-len(self.labels) // world)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.per_rank

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng((self.seed, self.epoch, 7919))
        n = self.per_rank * self.world
        if self.balanced:
            counts = np.bincount(self.labels)
            weights = 1.0 / counts[self.labels]
            order = rng.choice(len(self.labels), size=n, replace=True, p=weights / weights.sum())
        else:
            order = np.resize(rng.permutation(len(self.labels)), n)
        return iter(order[self.rank :: self.world].tolist())
