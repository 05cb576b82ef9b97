"""Plug-in generators: `module.path:callable`, `path/to/file.py:callable` and the entry-point
group `regionprims.generators`. The callable takes no arguments and returns a generator: a
`models.base.Generator` (for instance `regionprims.models.wrap_module(...)`), or any object with
the members of the `SplitGenerator` protocol, which is adopted (`models.base.adopt`). Code is imported only from a spec that a
user typed (command line, REGIONPRIMS_MODELS) or from an installed package's entry point; the
explorer offers only those (registry.model_names), so no URL or file can make it import code."""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import torch

from regionprims.errors import UserError
from regionprims.models.base import Generator, SplitGenerator, adopt

GROUP = "regionprims.generators"
_MODULE = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")
_ATTR = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")


def _split(text: str) -> tuple[str, str] | None:
    target, sep, attr = text.strip().rpartition(":")
    if not sep or not target or not _ATTR.fullmatch(attr):
        return None
    return target, attr


def is_spec(text: str) -> bool:
    """`module.path:callable` or `path/to/file.py:callable`."""
    parts = _split(text)
    return parts is not None and (parts[0].endswith(".py") or bool(_MODULE.fullmatch(parts[0])))


def normalise_spec(text: str) -> str:
    """The spec with a file path made absolute (one key per file, whatever the working folder)."""
    target, attr = _split(text)
    if target.endswith(".py"):
        target = str(Path(target).expanduser().resolve())
    return f"{target}:{attr}"


def _attribute(obj: Any, attr: str, where: str) -> Callable:
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UserError(f"{where} has no attribute '{attr}'")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserError(f"{where}:{attr} is not callable")
    return obj


def spec_callable(spec: str) -> Callable:
    """Import the module or run the file of a spec and return its callable."""
    target, attr = _split(spec)
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise UserError(f"plug-in file {path} does not exist")
        name = "regionprims_plugin_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
        module = sys.modules.get(name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[name] = module
            try:
                loader_spec.loader.exec_module(module)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - the plug-in's own error (or exit), one line
                sys.modules.pop(name, None)
                raise UserError(f"plug-in file {path} failed to run: {_why(exc)}") from None
        return _attribute(module, attr, str(path))
    try:
        module = importlib.import_module(target)
    except ImportError as exc:
        raise UserError(f"cannot import plug-in module '{target}': {exc}") from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the module's own error (or exit), one line
        raise UserError(f"plug-in module '{target}' failed to import: {_why(exc)}") from None
    return _attribute(module, attr, target)


@lru_cache(maxsize=1)
def entry_point_names() -> tuple[str, ...]:
    """Names registered by installed packages in the entry-point group `regionprims.generators`."""
    return tuple(sorted({ep.name for ep in metadata.entry_points(group=GROUP)}))


def entry_point_callable(name: str) -> Callable:
    for ep in metadata.entry_points(group=GROUP):
        if ep.name == name:
            try:
                return ep.load()
            except (Exception, SystemExit) as exc:  # noqa: BLE001
                raise UserError(f"entry point '{name}' ({ep.value}) failed to load: {_why(exc)}") from None
    raise UserError(f"no entry point '{name}' in group {GROUP}")


def _why(exc: BaseException) -> str:
    """One line for a plug-in's failure; sys.exit() in a plug-in is a failure, whatever its code."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {exc}"


def make_generator(factory: Callable, where: str, device: torch.device) -> Generator:
    """Call a plug-in's factory, check that it returned a usable generator, and move it to
    `device` when it can move."""
    try:
        gen = factory()
    except UserError:
        raise
    except (Exception, SystemExit) as exc:  # noqa: BLE001
        raise UserError(f"plug-in {where} failed: {_why(exc)}") from None
    if not isinstance(gen, SplitGenerator):
        raise UserError(f"plug-in {where} returned {type(gen).__name__}, not a SplitGenerator "
                        "(return regionprims.models.wrap_module(...) or implement models.base.SplitGenerator)")
    gen = adopt(gen)
    gen.check_facts(f"plug-in {where}")
    if torch.device(gen.device) != device:
        gen.to_device(device)
    return gen
