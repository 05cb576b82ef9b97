"""The released BigGAN-deep models as the registry sees them: `BigGANDeepFamily`, BigGANDeep's
facts for each released model (from its architecture: no weights are read) and the hooks that
find, fetch and read weights, and open a checkpoint folder.

The hooks live on a subclass here, at the top of the package, because the loaders they call
(weights.py, checkpoint.py) build `BigGANDeep` themselves: on the generator class they would make
an import loop. The generators the hooks return are `BigGANDeep`.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import torch

from regionprims.models.base import ProgressFn, facts
from regionprims.models.biggan.checkpoint import CONFIG_NAME, SAFETENSORS_NAME, WEIGHTS_NAME, load_folder, \
    weights_in_folder
from regionprims.models.biggan.generator import BIGGAN_NAMES, BigGANDeep, architecture_info
from regionprims.models.biggan.weights import fetch_weights, find_local_weights, how_to_get_weights, load_biggan
from regionprims.models.classes import imagenet_class_names


class BigGANDeepFamily(BigGANDeep):
    """biggan-deep-128, -256 and -512 (pytorch-pretrained-biggan), and any BigGAN-deep folder."""

    source = "download"
    folder_layout = (f"a BigGAN-deep folder holds {CONFIG_NAME} and {WEIGHTS_NAME} (or {SAFETENSORS_NAME})")

    @classmethod
    def models(cls) -> tuple[str, ...]:
        return BIGGAN_NAMES

    @classmethod
    def describe(cls, model: str) -> dict[str, Any]:
        """The class's facts with the released architecture's: image size, split points, classes."""
        arch = architecture_info(model)
        return facts(cls, model, image_size=arch["image_size"], split_points=arch["split_points"],
                     default_split=arch["default_split"], class_names=imagenet_class_names(),
                     description=f"BigGAN-deep {arch['image_size']} px, the 1000 ImageNet classes "
                                 "(released weights, downloaded once)")

    @classmethod
    def weights_present(cls, model: str) -> bool:
        return find_local_weights(model) is not None

    @classmethod
    def how_to_get(cls, model: str) -> str:
        return how_to_get_weights(model)

    @classmethod
    def load(cls, model: str, device: torch.device) -> BigGANDeep:
        return load_biggan(model, device)

    @classmethod
    def fetch_weights(cls, model: str, progress: ProgressFn | None = None,
                      cancel: threading.Event | None = None) -> None:
        fetch_weights(model, progress, cancel)

    @classmethod
    def opens_folder(cls, folder: Path) -> bool:
        return (folder / CONFIG_NAME).is_file() and weights_in_folder(folder) is not None

    @classmethod
    def load_folder(cls, folder: Path, device: torch.device) -> BigGANDeep:
        return load_folder(folder, device)
