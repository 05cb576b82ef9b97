"""Which generators exist, what each says about itself, and loading each once per process.

This is the one place that knows about generator families (docs/architecture.md). A model is named by:
- a built-in name: "demo" (embedded), "omniart-eyes" (the omniart-eye-generator package),
  "biggan-deep-128/256/512" (pytorch-pretrained-biggan);
- the name of an entry point in the group `regionprims.generators` of an installed package;
- a plug-in spec `module.path:callable` or `path/to/file.py:callable` (models.plugins);
- a folder holding a BigGAN-deep `config.json` + `pytorch_model.bin` (or `model.safetensors`).
`load_generator` returns a shared, frozen SplitGenerator; each (model, device) is loaded at most
once in a process, also when several threads ask at the same time. `model_info` describes a
model (class names, default truncation and split, ...) without loading built-in weights.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from regionprims.errors import UserError
from regionprims.models import plugins
from regionprims.models.base import SplitGenerator, default_truncation


@dataclass(frozen=True)
class Builtin:
    """What the registry knows about a built-in model without loading its weights."""

    describe: Callable[[], dict]            # name, kind, image_size, classes, split_points, default_split,
                                            # class_names, default_truncation, source
    present: Callable[[], bool]             # are the weights on this machine
    how_to_get: Callable[[], str]           # one line for a user without the weights
    load: Callable[[torch.device], SplitGenerator]


def _demo() -> Builtin:
    def describe() -> dict:
        from regionprims.models.demo import generator as demo
        return {**demo.DEMO_INFO, "class_names": tuple(demo.DEMO_CLASSES),
                "default_truncation": demo.DemoGenerator.default_truncation, "source": "bundled"}

    def present() -> bool:
        from regionprims.models.demo import generator as demo
        return bool(demo.weights_present())

    def load(device: torch.device) -> SplitGenerator:
        from regionprims.models.demo import generator as demo
        return demo.load_demo(device)

    return Builtin(describe, present, lambda: ("The demo weights ship inside regionprims (regionprims/models/); "
                                               "reinstall regionprims if they are missing"), load)


def _omniart() -> Builtin:
    from regionprims.models import omniart
    return Builtin(lambda: {**omniart.INFO, "class_names": omniart.CLASSES,
                            "default_truncation": omniart.DEFAULT_TRUNCATION, "source": "package"},
                   omniart.weights_present, omniart.how_to_get_weights, omniart.load_omniart)


def _biggan(name: str) -> Builtin:
    def describe() -> dict:
        from regionprims.models import biggan
        from regionprims.models.classes import imagenet_class_names
        return {**biggan.architecture_info(name), "class_names": imagenet_class_names(),
                "default_truncation": biggan.BigGANDeep.default_truncation, "source": "download"}

    def present() -> bool:
        from regionprims.models import biggan
        return biggan.find_local_weights(name) is not None

    def how_to_get() -> str:
        from regionprims.models import biggan
        return biggan.how_to_get_weights(name)

    def load(device: torch.device) -> SplitGenerator:
        from regionprims.models import biggan
        return biggan.load_biggan(name, device)

    return Builtin(describe, present, how_to_get, load)


BUILTINS: dict[str, Builtin] = {"demo": _demo(), "omniart-eyes": _omniart(),
                                **{n: _biggan(n) for n in ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")}}
MODEL_NAMES = tuple(BUILTINS)
INFO_KEYS = ("name", "kind", "image_size", "classes", "split_points", "default_split")

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


@lru_cache(maxsize=1)
def explorer_specs() -> tuple[str, ...]:
    """The plug-in specs of the environment variable REGIONPRIMS_MODELS (comma-separated),
    read once per process (for the explorer: at server start)."""
    return tuple(s.strip() for s in os.environ.get("REGIONPRIMS_MODELS", "").split(",") if s.strip())


def model_names() -> tuple[str, ...]:
    """Every model a user may pick by name: built-ins, entry points, REGIONPRIMS_MODELS specs.
    The explorer offers exactly these; a URL can select only among them."""
    extra = [n for n in (*plugins.entry_point_names(), *explorer_specs()) if n not in BUILTINS]
    return MODEL_NAMES + tuple(dict.fromkeys(extra))


def resolve_stored(name: object, where: str, typed: Iterable[str | os.PathLike | None] = ()) -> str:
    """The model to load for a name read from anything stored (a file's metadata, a study record,
    a cache entry, a URL): a built-in, an installed entry point, a REGIONPRIMS_MODELS spec, or one
    of `typed` (the --model the user gave). Anything else, a plug-in spec or a folder named only
    by the stored data, is refused without importing or reading it: stored data is never code.
    Every reader of a stored model name goes through here."""
    text = name.strip() if isinstance(name, str) else ""
    if text.lower() in BUILTINS:
        return text.lower()
    if text and text in plugins.entry_point_names():
        return text
    for trusted in (*explorer_specs(), *(os.fspath(t) for t in typed if t)):
        if text and (text == trusted.strip() or _same_reference(text, trusted)):
            return trusted.strip()
    from regionprims.validation import printable, short
    raise UserError(f"{where} names the model {printable(short(name, 80))}, which is not a built-in or an "
                    "installed entry point; regionprims never imports code or reads a folder named by a file, "
                    "a study or a URL: give --model NAME_OR_SPEC (or list the plug-in in REGIONPRIMS_MODELS)")


def _same_reference(stored: str, trusted: str) -> bool:
    """Whether a stored name and a user-given spec or folder mean the same model (without importing)."""
    try:
        if plugins.is_spec(stored) and plugins.is_spec(trusted):
            return plugins.normalise_spec(stored) == plugins.normalise_spec(trusted)
        if plugins.is_spec(stored) or plugins.is_spec(trusted):
            return False
        return Path(stored).expanduser().resolve() == Path(trusted).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return False


def _canonical(name_or_spec: str | os.PathLike) -> tuple[str, str]:
    """(kind of reference, key): 'builtin', 'entry', 'spec' or 'folder'. Names win over folders."""
    text = os.fspath(name_or_spec).strip()
    if text.lower() in BUILTINS:
        return "builtin", text.lower()
    if text in plugins.entry_point_names():
        return "entry", text
    if plugins.is_spec(text):
        return "spec", plugins.normalise_spec(text)
    path = Path(text).expanduser()
    if text and path.is_dir():
        return "folder", str(path.resolve())
    if os.sep in text or text.startswith((".", "~")):
        raise UserError(f"model folder {text!r} does not exist")
    raise UserError(f"unknown model {text!r}; known: {', '.join(model_names())}, a plug-in "
                    "module.path:callable or file.py:callable, or a BigGAN-deep folder")


def load_generator(name_or_spec: str = "demo", device: str | torch.device | None = None) -> SplitGenerator:
    """The shared, frozen generator for a model name, plug-in spec or BigGAN-deep folder."""
    how, key_name = _canonical(name_or_spec)
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
            gen = _load(how, key_name, dev)
            with _LOCK:
                _LOADED[key] = gen
    return gen


def _load(how: str, key: str, device: torch.device) -> SplitGenerator:
    if how == "builtin":
        return BUILTINS[key].load(device)
    if how == "folder":
        from regionprims.models import biggan
        return biggan.load_folder(key, device)
    factory = plugins.entry_point_callable(key) if how == "entry" else plugins.spec_callable(key)
    return plugins.make_generator(factory, key, device)


def clear_loaded() -> None:
    """Forget every loaded generator and the plug-in look-ups (for tests)."""
    with _LOCK:
        _LOADED.clear()
        _KEY_LOCKS.clear()
    explorer_specs.cache_clear()
    plugins.entry_point_names.cache_clear()
    model_info.cache_clear()


def _plugin_info(name: str) -> dict[str, Any]:
    gen = load_generator(name)
    return {"name": name, "kind": gen.kind, "image_size": int(gen.image_size), "classes": len(gen.class_names),
            "split_points": list(gen.split_points), "default_split": gen.default_split,
            "class_names": tuple(gen.class_names), "default_truncation": default_truncation(gen),
            "source": "plug-in", "weights_present": True}


@lru_cache(maxsize=64)
def model_info(name: str) -> dict[str, Any]:
    """Everything the front ends show about a model by name (built-in: without loading weights;
    plug-in: by loading it): the `models --json` keys but weights_present, plus class_names,
    default_truncation and source."""
    how, key = _canonical(name)
    if how == "builtin":
        return {**BUILTINS[key].describe(), "name": key}
    if how == "folder":
        raise UserError(f"{name!r} is a folder; give a model name")
    return _plugin_info(name)


def list_models() -> list[dict[str, Any]]:
    """name, kind, image_size, classes, split_points, default_split, weights_present of every
    model of `model_names()`; never downloads. A plug-in that fails to load is listed with
    weights_present false and its `error`."""
    out = []
    for name in model_names():
        try:
            info = model_info(name)
        except UserError as exc:
            info = {"name": name, "kind": "plug-in", "image_size": 0, "classes": 0, "split_points": [],
                    "default_split": "", "weights_present": False, "error": str(exc)}
        row = {k: info[k] for k in INFO_KEYS}
        row["split_points"] = list(row["split_points"])
        row["weights_present"] = bool(BUILTINS[name].present() if name in BUILTINS else info["weights_present"])
        if "error" in info:
            row["error"] = info["error"]
        out.append(row)
    return out


def how_to_get_weights(name: str) -> str:
    """One line telling a user how to get a model's weights."""
    text = str(name).strip().lower()
    if text in BUILTINS:
        return BUILTINS[text].how_to_get()
    if name in model_names() or plugins.is_spec(str(name)):
        return "a plug-in brings its own weights: see its documentation"
    raise UserError(f"unknown model {name!r}; known: {', '.join(model_names())}")


def class_names(model: str) -> tuple[str, ...]:
    """Class names of a model (built-in: without loading it)."""
    return tuple(model_info(model)["class_names"])


def model_defaults(model: str) -> tuple[float, str, tuple[str, ...]]:
    """(default truncation, default split, split points) of a model (built-in: without loading it)."""
    info = model_info(model)
    return float(info["default_truncation"]), info["default_split"], tuple(info["split_points"])


def downloadable(name: str) -> bool:
    """Whether `fetch_weights` can get this model's weights from the network (released models)."""
    text = str(name).strip().lower()
    return text in BUILTINS and model_info(text)["source"] == "download"


def fetch_weights(name: str, progress=None, cancel=None) -> None:
    """Get a released model's weights onto this machine (local caches, else the Hugging Face Hub,
    else the package's URLs; see models/biggan/weights.py). `progress(done, total, message)` and
    `cancel` (a threading.Event; progress.Cancelled) as in the engine. UserError when none."""
    if not downloadable(name):
        raise UserError(f"model {name!r} has no weights to download")
    from regionprims.models import biggan
    biggan.fetch_weights(str(name).strip().lower(), progress, cancel)
