"""Reading a BigGAN-deep checkpoint from files, safely and strictly: `config.json` plus
`model.safetensors` or `pytorch_model.bin` (tensors only: `torch.load(..., weights_only=True)`),
loaded with `load_state_dict(strict=True)` and checked to render finitely. Every problem is one
`UserError` line. A weights file whose sha256 is not the expected one raises `ChecksumMismatch`
(hub.py raises it too, for a download; it is defined here, below hub.py, so that neither module
imports the other's).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.models.base import sha256_file
from regionprims.models.biggan.generator import ARCHITECTURES, BigGANDeep, check_finite

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
SAFETENSORS_NAME = "model.safetensors"


class ChecksumMismatch(UserError):
    """Downloaded or cached weights whose sha256 is not the pinned one."""


# --------------------------------------------------------------------------------------------
# Reading weights


def _read_config(path: Path):
    from pytorch_pretrained_biggan import BigGANConfig
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read BigGAN config {path}: {e}") from None
    if not isinstance(data, dict):
        raise UserError(f"BigGAN config {path} is not a JSON object")
    return BigGANConfig.from_dict(data)


def _looks_like_html(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512).lstrip().lower()
    except OSError:
        return False
    return head.startswith((b"<!doctype", b"<html", b"<?xml", b"<"))


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if path.name.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
            sd = load_file(str(path), device="cpu")
        except Exception as e:   # SafetensorError, OSError, ...
            raise UserError(f"{path} is not a readable safetensors file ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    else:
        if _looks_like_html(path):
            raise UserError(f"{path} is not a PyTorch checkpoint: it is text/HTML (an error page saved "
                            "instead of the weights?); download pytorch_model.bin again")
        try:
            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as e:   # UnpicklingError, RuntimeError, EOFError, ...
            text = str(e)
            m = re.search(r"Unsupported global: GLOBAL (\S+)", text)
            if m:
                reason = f"it holds objects other than tensors ({m.group(1)}), refused"
            else:
                reason = (text.strip().splitlines() or [type(e).__name__])[0][:200]
            raise UserError(f"{path} is not a PyTorch checkpoint of tensors that can be loaded safely "
                            f"(weights_only): {reason}") from None
    if not isinstance(sd, Mapping) or not sd or not all(isinstance(k, str) and isinstance(v, Tensor)
                                                         for k, v in sd.items()):
        raise UserError(f"{path} does not hold a state dict (a mapping of names to tensors)")
    return dict(sd)


def _short_list(keys: list[str], most: int = 5) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - most} more)" if len(keys) > most else ""
    return ", ".join(keys[:most]) + more


def _build_model(config, state_dict: Mapping[str, Tensor], where: Path):
    from pytorch_pretrained_biggan import BigGAN
    try:
        torch.manual_seed(0)   # spectral-norm u/v start values; all overwritten by the state dict
        model = BigGAN(config)
    except Exception as e:
        raise UserError(f"{where / CONFIG_NAME} does not describe a BigGAN-deep generator: {e}") from None
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_short_list(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_short_list(unexpected)}")
        raise UserError(f"weights in {where} do not match its config.json ({'; '.join(parts)})")
    bad_shape = [k for k, v in state_dict.items() if tuple(v.shape) != tuple(expected[k].shape)]
    if bad_shape:
        k = bad_shape[0]
        raise UserError(f"weights in {where} do not match its config.json: {k} has shape "
                        f"{tuple(state_dict[k].shape)}, expected {tuple(expected[k].shape)}"
                        + (f" (+{len(bad_shape) - 1} more)" if len(bad_shape) > 1 else ""))
    non_finite = [k for k, v in state_dict.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if non_finite:
        raise UserError(f"weights in {where} contain non-finite values (NaN/Inf) in {_short_list(non_finite, 3)}: "
                        "the file is corrupt; get a fresh copy")
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        raise UserError(f"weights in {where} cannot be loaded: {str(e).splitlines()[0]}") from None
    return model


def _name_for(config, folder: Path) -> str:
    for name, arch in ARCHITECTURES.items():
        if all(_jsonable(getattr(config, k, None)) == _jsonable(v) for k, v in arch.items()):
            return name
    return f"biggan-deep-{getattr(config, 'output_dim', 'x')}-custom"


def _jsonable(v: Any) -> Any:
    return json.loads(json.dumps(v))


def load_from_files(config_path: Path, weights_path: Path, device: torch.device | str = "cpu",
                    name: str | None = None, check: bool = True, expected_sha256: str | None = None) -> BigGANDeep:
    """Load a BigGAN-deep from a config file and a weights file (tensors only, strictly). With
    `expected_sha256`, a weights file with another digest is refused (ChecksumMismatch)."""
    config_path, weights_path = Path(config_path), Path(weights_path)
    digest = sha256_file(weights_path)
    if expected_sha256 is not None and digest != expected_sha256:
        raise ChecksumMismatch(f"weights file {weights_path} has sha256 {digest[:16]}…, expected "
                               f"{expected_sha256[:16]}… (corrupt or replaced); it is not used")
    config = _read_config(config_path)
    state_dict = _read_state_dict(weights_path)
    model = _build_model(config, state_dict, weights_path.parent)
    name = name or _name_for(config, weights_path.parent)
    gen = BigGANDeep(model, name, f"{name}@{digest[:16]}", device)
    if check:
        check_finite(gen)
    return gen


def weights_in_folder(folder: Path) -> Path | None:
    for fname in (SAFETENSORS_NAME, WEIGHTS_NAME):
        if (folder / fname).is_file():
            return folder / fname
    return None


def load_folder(folder: str | os.PathLike, device: torch.device | str = "cpu", name: str | None = None) -> BigGANDeep:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"model folder {folder} does not exist")
    weights = weights_in_folder(folder)
    if not (folder / CONFIG_NAME).is_file() or weights is None:
        raise UserError(f"model folder {folder} must hold {CONFIG_NAME} and {WEIGHTS_NAME} "
                        f"(or {SAFETENSORS_NAME})")
    return load_from_files(folder / CONFIG_NAME, weights, device, name)


