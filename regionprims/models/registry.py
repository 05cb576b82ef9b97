"""Which generators exist, what each says about itself, and loading each once per process.

This is the one place that knows which generator families exist: `FAMILIES`, one row per family
(docs/architecture.md, "Adding a generator family"). Everything else about a family, its model
names, facts and the hooks for its weights and checkpoint folders, is read from its class, a
subclass of `models.base.Generator`. A model is named by:
- a built-in name: a name a family serves ("demo", "omniart-eyes", "biggan-deep-128", ...);
- the name of an entry point in the group `regionprims.generators` of an installed package;
- a plug-in spec `module.path:callable` or `path/to/file.py:callable` (models.plugins);
- a checkpoint folder that a family reads (its `folder_layout`; e.g. a BigGAN-deep config.json +
  pytorch_model.bin).
`load_generator` returns a shared, frozen Generator; each (model, device) is loaded at most
once in a process, also when several threads ask at the same time. `model_info` describes a
model (class names, default truncation and split, ...) without loading built-in weights.
"""
from __future__ import annotations

import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from regionprims.errors import UserError
from regionprims.models import plugins
from regionprims.models.base import LISTED, Generator, facts


def _demo() -> type[Generator]:
    from regionprims.models.demo.generator import DemoGenerator
    return DemoGenerator


def _omniart() -> type[Generator]:
    from regionprims.models.omniart import OmniartEyes
    return OmniartEyes


def _biggan() -> type[Generator]:
    from regionprims.models.biggan.family import BigGANDeepFamily
    return BigGANDeepFamily


# One row per generator family: a function that imports the family's class (so that importing the
# registry imports no family until one is needed). The class says which names it serves.
FAMILIES: tuple[Callable[[], type[Generator]], ...] = (_demo, _omniart, _biggan)
INFO_KEYS = LISTED


@lru_cache(maxsize=1)
def builtin_models() -> dict[str, type[Generator]]:
    """Every built-in model name and the family that serves it, in FAMILIES order (the
    families are imported on the first call; `clear_loaded` forgets them)."""
    table: dict[str, type[Generator]] = {}
    for row in FAMILIES:
        family = row()
        for name in family.models():
            table.setdefault(name, family)
    return table


def _families() -> list[type[Generator]]:
    return [row() for row in FAMILIES]


def __getattr__(attr: str) -> Any:
    """MODEL_NAMES, the built-in names, computed when first read so that importing the registry
    imports no family."""
    if attr == "MODEL_NAMES":
        return tuple(builtin_models())
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


_LOCK = threading.Lock()
_LOADED: dict[tuple[str, str], Generator] = {}
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
    builtins = tuple(builtin_models())
    extra = [n for n in (*plugins.entry_point_names(), *explorer_specs()) if n not in builtins]
    return builtins + tuple(dict.fromkeys(extra))


@lru_cache(maxsize=1)
def plugin_names() -> dict[str, str]:
    """{REGIONPRIMS_MODELS spec: the name its generator gives itself} (the `name` of its factory's
    wrap_module or Generator, e.g. "test-unet"), for every spec that loads and whose name is its
    own: not a built-in or entry-point name, not another spec's name, not a spec itself. Loads
    the listed plug-ins (the explorer lists them anyway); a URL may name one by it."""
    taken = {*builtin_models(), *plugins.entry_point_names(), *explorer_specs()}
    found: dict[str, str] = {}
    for spec in explorer_specs():
        try:
            name = load_generator(spec).name
        except UserError:
            continue
        if isinstance(name, str) and name.strip() == name and name and not plugins.is_spec(name):
            found[spec] = name
    names = list(found.values())
    return {spec: name for spec, name in found.items()
            if names.count(name) == 1 and name not in taken and name.lower() not in builtin_models()}


def shown_name(model: str) -> str:
    """The name a user knows a model by: a REGIONPRIMS_MODELS plug-in's own name (plugin_names),
    anything else as it is named."""
    return plugin_names().get(model, model) if model in explorer_specs() else model


def named_plugin(name: str) -> str | None:
    """The REGIONPRIMS_MODELS spec of the plug-in that calls itself `name` (plugin_names), or None:
    only a listed spec can come back, so a name never makes anything else load."""
    return next((spec for spec, own in plugin_names().items() if own == name), None)


def resolve_stored(name: object, where: str, typed: Iterable[str | os.PathLike | None] = ()) -> str:
    """The model to load for a name read from anything stored (a file's metadata, a study record,
    a cache entry, a URL): a built-in, an installed entry point, a REGIONPRIMS_MODELS spec, or one
    of `typed` (the --model the user gave). Anything else, a plug-in spec or a folder named only
    by the stored data, is refused without importing or reading it: stored data is never code.
    Every reader of a stored model name goes through here."""
    text = name.strip() if isinstance(name, str) else ""
    if text.lower() in builtin_models():
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
    if text.lower() in builtin_models():
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
                    f"module.path:callable or file.py:callable, or a checkpoint folder ({'; '.join(folder_layouts())})")


def folder_layouts() -> list[str]:
    """What a checkpoint folder holds, for each family that reads one (`--model FOLDER`)."""
    return [family.folder_layout for family in _families() if family.folder_layout]


def load_generator(name_or_spec: str = "demo", device: str | torch.device | None = None) -> Generator:
    """The shared, frozen generator for a model name, plug-in spec or checkpoint folder."""
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


def _load(how: str, key: str, device: torch.device) -> Generator:
    if how == "builtin":
        return builtin_models()[key].load(key, device)
    if how == "folder":
        return _load_folder(Path(key), device)
    factory = plugins.entry_point_callable(key) if how == "entry" else plugins.spec_callable(key)
    return plugins.make_generator(factory, key, device)


def _load_folder(folder: Path, device: torch.device) -> Generator:
    """The generator of the first family that reads `folder` (its `opens_folder`)."""
    for family in _families():
        if family.opens_folder(folder):
            return family.load_folder(folder, device)
    raise UserError(f"model folder {folder} holds no checkpoint regionprims reads: {'; '.join(folder_layouts())}")


def clear_loaded() -> None:
    """Forget every loaded generator and the plug-in look-ups (for tests)."""
    with _LOCK:
        _LOADED.clear()
        _KEY_LOCKS.clear()
    explorer_specs.cache_clear()
    plugin_names.cache_clear()
    builtin_models.cache_clear()
    plugins.entry_point_names.cache_clear()
    model_info.cache_clear()


def _plugin_info(name: str) -> dict[str, Any]:
    return {**facts(load_generator(name), name), "weights_present": True}


@lru_cache(maxsize=64)
def model_info(name: str) -> dict[str, Any]:
    """Everything the front ends show about a model by name (built-in: without loading weights;
    plug-in: by loading it): the `models --json` keys but weights_present, plus class_names,
    default_truncation, source and description (models.base.facts)."""
    how, key = _canonical(name)
    if how == "builtin":
        return builtin_models()[key].describe(key)
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
        family = builtin_models().get(name)
        row["weights_present"] = bool(family.weights_present(name) if family is not None else info["weights_present"])
        if "error" in info:
            row["error"] = info["error"]
        out.append(row)
    return out


def how_to_get_weights(name: str) -> str:
    """One line telling a user how to get a model's weights."""
    text = str(name).strip().lower()
    if text in builtin_models():
        return builtin_models()[text].how_to_get(text)
    if name in model_names() or plugins.is_spec(str(name)):
        return Generator.how_to_get(str(name))
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
    family = builtin_models().get(str(name).strip().lower())
    return family is not None and family.source == "download"


def fetch_weights(name: str, progress=None, cancel=None) -> None:
    """Get a released model's weights onto this machine (its family's `fetch_weights`; for
    BigGAN-deep see models/biggan/weights.py). `progress(done, total, message)` and `cancel`
    (a threading.Event; progress.Cancelled) as in the engine. UserError when none."""
    if not downloadable(name):
        raise UserError(f"model {name!r} has no weights to download")
    text = str(name).strip().lower()
    builtin_models()[text].fetch_weights(text, progress, cancel)
