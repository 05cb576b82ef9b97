"""Which generators exist, where their weights are, and loading each once per process.

`load_generator(name_or_folder, device)` returns a shared, frozen SplitGenerator: "demo" (the
embedded generator, `models.demo`), a released BigGAN-deep name, or a folder holding a BigGAN-deep
`config.json` + `pytorch_model.bin` (or `model.safetensors`). Each (model, device) is loaded at
most once in a process, also when several threads ask at the same time.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

from regionprims.errors import UserError
from regionprims.models.base import SplitGenerator

MODEL_NAMES = ("demo", "biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
DEFAULT_TRUNCATION = {"demo": 1.0, "biggan-deep": 0.4}    # per kind; the pipeline's default too

_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], SplitGenerator] = {}
_KEY_LOCKS: dict[tuple[str, str], threading.Lock] = {}


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """None/"auto": CUDA when available, else CPU. "cpu", "cuda" and "cuda:N" are accepted."""
    if isinstance(device, torch.device):
        device = str(device)
    text = "auto" if device is None else str(device).strip().lower()
    if text in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or (text.startswith("cuda:") and text[5:].isdigit()):
        if not torch.cuda.is_available():
            raise UserError(f"device {device!r} was asked for but CUDA is not available here; "
                            "use --device cpu (or auto)")
        if ":" in text and int(text[5:]) >= torch.cuda.device_count():
            raise UserError(f"device {device!r} does not exist: this machine has "
                            f"{torch.cuda.device_count()} CUDA device(s)")
        return torch.device(text)
    raise UserError(f"unknown device {device!r}; use auto, cpu or cuda")


def _canonical(name_or_folder: str | os.PathLike) -> tuple[str, bool]:
    """(key, is_folder). Known names win over folders of the same name."""
    text = os.fspath(name_or_folder).strip()
    if text.lower() in MODEL_NAMES:
        return text.lower(), False
    path = Path(text).expanduser()
    if text and path.is_dir():
        return str(path.resolve()), True
    if os.sep in text or text.startswith((".", "~")):
        raise UserError(f"model folder {text!r} does not exist")
    raise UserError(f"unknown model {text!r}; known: {', '.join(MODEL_NAMES)}, "
                    "or a folder with config.json and pytorch_model.bin")


def load_generator(name_or_folder: str = "demo", device: str | torch.device | None = None) -> SplitGenerator:
    """The shared, frozen generator for a model name or BigGAN-deep folder on a device."""
    key_name, is_folder = _canonical(name_or_folder)
    dev = pick_device(device)
    key = (key_name, str(dev))
    with _LOCK:
        gen = _LOADED.get(key)
        if gen is not None:
            return gen
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        gen = _LOADED.get(key)
        if gen is None:
            gen = _load(key_name, is_folder, dev)
            with _LOCK:
                _LOADED[key] = gen
    return gen


def _load(name: str, is_folder: bool, device: torch.device) -> SplitGenerator:
    if name == "demo" and not is_folder:
        from regionprims.models.demo import generator as demo   # imported only when asked for
        return demo.load_demo(device)
    from regionprims.models import biggan
    if is_folder:
        return biggan.load_folder(name, device)
    return biggan.load_biggan(name, device)


def _demo_info() -> dict[str, Any]:
    from regionprims.models.demo import generator as demo
    info = dict(demo.DEMO_INFO)
    info["weights_present"] = bool(demo.weights_present())
    info["split_points"] = list(info["split_points"])
    return info


def list_models() -> list[dict[str, Any]]:
    """name, kind, image_size, classes, split_points, default_split, weights_present of every
    known model, without loading or downloading any weights."""
    from regionprims.models import biggan
    out = [_demo_info()]
    for name in MODEL_NAMES[1:]:
        info = biggan.architecture_info(name)
        info["weights_present"] = biggan.find_local_weights(name) is not None
        out.append(info)
    return out


def how_to_get_weights(name: str) -> str:
    """One line telling a user how to get a model's weights."""
    text = str(name).strip().lower()
    if text == "demo":
        return ("The demo weights ship inside regionprims (regionprims/models/); reinstall regionprims "
                "if they are missing")
    if text in MODEL_NAMES:
        from regionprims.models import biggan
        return biggan.how_to_get_weights(text)
    raise UserError(f"unknown model {name!r}; known: {', '.join(MODEL_NAMES)}")


def class_names(model: str) -> tuple[str, ...]:
    """Class names of a registry model, without loading it (the demo's scenes, else ImageNet's)."""
    if model == "demo":
        from regionprims.models.demo.scenes import DEMO_CLASSES
        return tuple(DEMO_CLASSES)
    from regionprims.models.classes import imagenet_class_names
    return imagenet_class_names()


@lru_cache(maxsize=8)
def _model_info(model: str) -> dict[str, Any]:
    for info in list_models():
        if info["name"] == model:
            return info
    raise UserError(f"unknown model '{model}'")


def model_defaults(model: str) -> tuple[float, str, tuple[str, ...]]:
    """(default truncation, default split, split points) of a registry model, without loading it."""
    info = _model_info(model)
    kind = info.get("kind", "demo")
    return DEFAULT_TRUNCATION.get(kind, 1.0), info["default_split"], tuple(info["split_points"])


def downloadable(name: str) -> bool:
    """Whether `fetch_weights` can get this model's weights from the network (released models)."""
    return str(name).strip().lower() in MODEL_NAMES[1:]


def fetch_weights(name: str, progress=None, cancel=None) -> None:
    """Get a released model's weights onto this machine (local caches, else the Hugging Face Hub,
    else the package's URLs; see models/biggan/weights.py). `progress(done, total, message)` and
    `cancel` (a threading.Event; progress.Cancelled) as in the engine. UserError when none."""
    if not downloadable(name):
        raise UserError(f"model {name!r} has no weights to download")
    from regionprims.models import biggan
    biggan.fetch_weights(str(name).strip().lower(), progress, cancel)
