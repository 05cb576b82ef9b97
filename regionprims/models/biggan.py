"""BigGAN-deep (pytorch-pretrained-biggan 0.1.1) behind the SplitGenerator protocol.

This is the only module that imports `pytorch_pretrained_biggan`, and it does so lazily (inside
functions), so that listing models or importing the registry stays cheap.

Split points
    `generator.layers.i` for every module of `Generator.layers` whose output is at least 8x8.
    The feature at split `s` is the output of module `s`. `head` runs `embeddings`, `gen_z`, the
    reshape and `layers[0..i]`; `tail` runs `layers[i+1..]`, then `bn -> relu -> conv_to_rgb ->
    [:, :3] -> tanh`: the exact statements of `Generator.forward` (GenBlocks take
    `(x, cond, truncation)`, SelfAttn takes `(x)`), so `tail(head(z)) == forward(z)`.

Default split
    The first module whose output is 16x16; the middle split point when no module is 16x16.
    That is `generator.layers.3` for biggan-deep-128, -256 and -512 alike (the first up-sampling
    block to 16x16, 1024 channels; for 128 `layers.4` is also 16x16 but comes later). Why 16x16:
    the layout of the scene is decided there (BigGAN-deep's early blocks fix object placement and
    parts, later blocks mostly add texture), yet the grid is fine enough to carry a 3x3 or 6x6
    grid of region players (each feature cell maps to an 8x8 patch of a 128 px image), and
    it is the earliest point whose receptive fields are local enough for "regions" to make sense.

Latent codes
    `sample_z(seed, truncation, batch)` draws from our own truncated normal, not
    `truncated_noise_sample` (its SciPy `truncnorm` internals change between SciPy releases): a
    legacy `numpy.random.RandomState(seed)` (whose stream NumPy keeps frozen) produces standard
    normals; values with |x| > 2 are rejected (the same truncation to [-2, 2] as the package);
    the accepted values, in order, fill `[batch, z_dim]` row by row and are scaled by the
    truncation. Row k of a batch does not depend on the batch size (`Z_SAMPLER` names this
    scheme; change the name if the scheme ever changes).

Weights (`load_biggan`), in order
    (a) an explicit local folder with `config.json` + `model.safetensors` or `pytorch_model.bin`;
    (b) the package cache `$PYTORCH_PRETRAINED_BIGGAN_CACHE` (default `~/.pytorch_pretrained_biggan`):
        first a plain sub-folder named after the model (`<cache>/biggan-deep-128/config.json` ...),
        then the files the package itself caches (`sha256(url)[.sha256(etag)]`);
    (c) the package's download URLs (S3), fetched with short timeouts into the package cache
        layout (our own copy of `file_utils.get_from_cache`, because the package's has no timeouts);
    (d) for biggan-deep-128 only, the Hugging Face mirror `osanseviero/BigGAN-deep-128` at a
        pinned revision (optional `huggingface_hub`; its local cache is tried even offline).
    `REGIONPRIMS_OFFLINE=1` or `HF_HUB_OFFLINE=1` skips (c) and the network part of (d).
    Files are read with `torch.load(..., map_location="cpu", weights_only=True)` (or safetensors)
    and loaded with `load_state_dict(strict=True)`; every problem is one `UserError` line.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.validation import validate_class_index, validate_seed, validate_truncation
from regionprims.models.base import SplitContext

log = logging.getLogger(__name__)

BIGGAN_NAMES = ("biggan-deep-128", "biggan-deep-256", "biggan-deep-512")
KIND = "biggan-deep"
Z_SAMPLER = "randomstate-normal-reject2/v1"
MIN_SPLIT_SIZE = 8
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "pytorch_model.bin"
SAFETENSORS_NAME = "model.safetensors"

# The package's own download locations (pytorch_pretrained_biggan.model.PRETRAINED_*_ARCHIVE_MAP;
# a test checks they are equal). Kept here so that looking for weights does not import boto3.
_S3 = "https://s3.amazonaws.com/models.huggingface.co/biggan/{name}-{file}"
PACKAGE_URLS = {n: {"config": _S3.format(name=n, file="config.json"),
                    "weights": _S3.format(name=n, file="pytorch_model.bin")} for n in BIGGAN_NAMES}
HF_MIRRORS = {"biggan-deep-128": ("osanseviero/BigGAN-deep-128", "86e3d82ec07f2513c0942d138a7b38133cfc2036")}

# Architectures of the released models (== pytorch_pretrained_biggan.convert_tf_to_pytorch
# BigGAN128/256/512; a test checks it). Used to describe models without loading any weights.
_COMMON = dict(z_dim=128, class_embed_dim=128, channel_width=128, num_classes=1000,
               attention_layer_position=8, eps=1e-4, n_stats=51)
_L128 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
         (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)]
_L256 = [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8),
         (True, 8, 8), (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2),
         (True, 2, 1)]
_L512 = _L256 + [(False, 1, 1), (True, 1, 1)]
ARCHITECTURES: dict[str, dict[str, Any]] = {
    "biggan-deep-128": dict(_COMMON, output_dim=128, layers=_L128),
    "biggan-deep-256": dict(_COMMON, output_dim=256, layers=_L256),
    "biggan-deep-512": dict(_COMMON, output_dim=512, layers=_L512),
}

_FIXED_CHECK = (0, 0, 0.5)   # (seed, class, truncation) of the code every loaded model must render finitely


# --------------------------------------------------------------------------------------------
# Architecture bookkeeping (no weights, no package import)


def module_plan(layers, attention_layer_position: int, channel_width: int) -> list[tuple[str, int, int]]:
    """(kind, channels out, resolution out) of every module of `Generator.layers`, in order."""
    plan: list[tuple[str, int, int]] = []
    res = 4
    for i, (up, _c_in, c_out) in enumerate(layers):
        if i == attention_layer_position:
            plan.append(("attn", channel_width * layers[i][1], res))
        if up:
            res *= 2
        plan.append(("block", channel_width * c_out, res))
    return plan


def split_points_of(plan: list[tuple[str, int, int]]) -> tuple[str, ...]:
    return tuple(f"generator.layers.{i}" for i, (_k, _c, r) in enumerate(plan) if r >= MIN_SPLIT_SIZE)


def default_split_of(plan: list[tuple[str, int, int]]) -> str:
    """First module with a 16x16 output; else the middle split point."""
    points = split_points_of(plan)
    if not points:
        raise UserError("this BigGAN config has no layer with an output of at least 8x8 to split at")
    for i, (_k, _c, r) in enumerate(plan):
        if r == 16:
            return f"generator.layers.{i}"
    return points[len(points) // 2]


def architecture_info(name: str) -> dict[str, Any]:
    """Description of a released model from its architecture alone (no weights)."""
    if name not in ARCHITECTURES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    a = ARCHITECTURES[name]
    plan = module_plan(a["layers"], a["attention_layer_position"], a["channel_width"])
    return {"name": name, "kind": KIND, "image_size": plan[-1][2], "classes": a["num_classes"],
            "split_points": list(split_points_of(plan)), "default_split": default_split_of(plan)}


# --------------------------------------------------------------------------------------------
# Latent codes


def truncated_normal(seed: int, n: int, bound: float = 2.0) -> np.ndarray:
    """First n standard normals of RandomState(seed) with |x| <= bound (float64)."""
    rs = np.random.RandomState(seed)
    parts, have = [], 0
    while have < n:
        draw = rs.standard_normal(max(2 * (n - have), 64))
        keep = draw[np.abs(draw) <= bound]
        parts.append(keep)
        have += keep.size
    return np.concatenate(parts)[:n]


# --------------------------------------------------------------------------------------------
# The generator


class BigGANDeep:
    """A frozen BigGAN-deep split at `generator.layers.i` (see the module docstring)."""

    kind = KIND
    default_truncation = 0.4

    def __init__(self, model: torch.nn.Module, name: str, identity: str, device: torch.device | str = "cpu"):
        from pytorch_pretrained_biggan.model import GenBlock
        self._GenBlock = GenBlock
        self.device = torch.device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        cfg = model.config
        self.config = cfg
        self.name = name
        self.identity = identity
        self.z_dim = int(cfg.z_dim)
        self.num_classes = int(cfg.num_classes)
        self._plan = module_plan(cfg.layers, cfg.attention_layer_position, cfg.channel_width)
        self.image_size = self._plan[-1][2]
        self.split_points = split_points_of(self._plan)
        self.default_split = default_split_of(self._plan)
        self._index = {f"generator.layers.{i}": i for i in range(len(self._plan))}
        if self.num_classes == 1000:
            from regionprims.models.classes import imagenet_class_names
            self.class_names = imagenet_class_names()
        else:
            self.class_names = tuple(f"class {i}" for i in range(self.num_classes))

    def __repr__(self) -> str:
        return f"BigGANDeep({self.identity!r}, {self.image_size}px, device={self.device})"

    # -- protocol ------------------------------------------------------------------------------

    def sample_z(self, seed: int, truncation: float, batch: int = 1) -> Tensor:
        seed = validate_seed(seed)
        t = validate_truncation(truncation)
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise UserError(f"batch must be a positive integer, got {batch!r}")
        values = truncated_normal(seed, int(batch) * self.z_dim).astype(np.float32) * np.float32(t)
        return torch.from_numpy(values.reshape(int(batch), self.z_dim)).to(self.device)

    def _split_index(self, split: str) -> int:
        if split not in self.split_points:
            raise UserError(f"unknown split point {split!r} for {self.name}; "
                            f"known: {', '.join(self.split_points)}")
        return self._index[split]

    def _cond(self, z: Tensor, class_id: int) -> Tensor:
        z = self._as_z(z)
        y = torch.zeros(z.shape[0], self.num_classes, device=self.device, dtype=z.dtype)
        y[:, class_id] = 1.0
        return torch.cat((z, self.model.embeddings(y)), dim=1)

    def _as_z(self, z: Tensor) -> Tensor:
        z = torch.as_tensor(z).to(self.device, torch.float32)
        if z.dim() == 1:
            z = z.unsqueeze(0)
        if z.dim() != 2 or z.shape[1] != self.z_dim:
            raise ValueError(f"z must have shape [B, {self.z_dim}], got {tuple(z.shape)}")
        return z

    def _run(self, h: Tensor, cond: Tensor, truncation: float, start: int, stop: int) -> Tensor:
        for layer in self.model.generator.layers[start:stop]:
            h = layer(h, cond, truncation) if isinstance(layer, self._GenBlock) else layer(h)
        return h

    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        """Feature [B, C, h, w] = output of module `split`, and the context (cond has z's batch)."""
        t = validate_truncation(truncation)
        c = validate_class_index(class_id, self.num_classes)
        idx = self._split_index(split)
        g = self.model.generator
        cond = self._cond(z, c)
        h = g.gen_z(cond)
        h = h.view(-1, 4, 4, 16 * g.config.channel_width).permute(0, 3, 1, 2).contiguous()
        h = self._run(h, cond, t, 0, idx + 1)
        return h, SplitContext(split=split, cond=cond, truncation=t)

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        """Images [B, 3, H, W] in [-1, 1] from features [B, C, h, w]; a batch-1 ctx.cond is
        broadcast over the batch. Differentiable w.r.t. `feature` (the weights are frozen)."""
        t = validate_truncation(ctx.truncation)
        idx = self._split_index(ctx.split)
        if feature.dim() == 3:
            feature = feature.unsqueeze(0)
        expected = self.feature_shape(ctx.split)
        if feature.dim() != 4 or tuple(feature.shape[1:]) != expected:
            raise ValueError(f"feature at {ctx.split} must have shape [B, {expected[0]}, {expected[1]}, "
                             f"{expected[2]}], got {tuple(feature.shape)}")
        b = feature.shape[0]
        cond = ctx.cond.to(feature.device)
        if cond.shape[0] == 1 and b != 1:
            cond = cond.expand(b, -1)
        elif cond.shape[0] != b:
            raise ValueError(f"ctx.cond has batch {cond.shape[0]}, the feature has batch {b}")
        g = self.model.generator
        h = self._run(feature, cond, t, idx + 1, len(g.layers))
        h = g.relu(g.bn(h, t))
        return g.tanh(g.conv_to_rgb(h)[:, :3, ...])

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        """The package's own `BigGAN.forward` (the unsplit reference)."""
        t = validate_truncation(truncation)
        c = validate_class_index(class_id, self.num_classes)
        z = self._as_z(z)
        y = torch.zeros(z.shape[0], self.num_classes, device=self.device, dtype=z.dtype)
        y[:, c] = 1.0
        return self.model(z, y, t)

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        _k, ch, res = self._plan[self._split_index(split)]
        return (ch, res, res)


def check_finite(generator) -> None:
    """Render one fixed code; refuse (UserError) a generator whose output is not finite."""
    seed, class_id, t = _FIXED_CHECK
    with torch.no_grad():
        x = generator.forward(generator.sample_z(seed, t, 1), class_id, t)
    if not bool(torch.isfinite(x).all()):
        raise UserError(f"model {generator.name} produces non-finite output (NaN/Inf) on a fixed test "
                        "code: its weights are corrupt or untrained; get a fresh copy of the weights")
    if tuple(x.shape) != (1, 3, generator.image_size, generator.image_size):
        raise UserError(f"model {generator.name} produces images of shape {tuple(x.shape)}, "
                        f"expected (1, 3, {generator.image_size}, {generator.image_size})")


# --------------------------------------------------------------------------------------------
# Reading weights


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


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
                    name: str | None = None, check: bool = True) -> BigGANDeep:
    """Load a BigGAN-deep from a config file and a weights file (tensors only, strictly)."""
    config_path, weights_path = Path(config_path), Path(weights_path)
    config = _read_config(config_path)
    state_dict = _read_state_dict(weights_path)
    model = _build_model(config, state_dict, weights_path.parent)
    name = name or _name_for(config, weights_path.parent)
    gen = BigGANDeep(model, name, f"{name}@{sha256_file(weights_path)[:16]}", device)
    if check:
        check_finite(gen)
    return gen


def _weights_in_folder(folder: Path) -> Path | None:
    for fname in (SAFETENSORS_NAME, WEIGHTS_NAME):
        if (folder / fname).is_file():
            return folder / fname
    return None


def load_folder(folder: str | os.PathLike, device: torch.device | str = "cpu", name: str | None = None) -> BigGANDeep:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise UserError(f"model folder {folder} does not exist")
    weights = _weights_in_folder(folder)
    if not (folder / CONFIG_NAME).is_file() or weights is None:
        raise UserError(f"model folder {folder} must hold {CONFIG_NAME} and {WEIGHTS_NAME} "
                        f"(or {SAFETENSORS_NAME})")
    return load_from_files(folder / CONFIG_NAME, weights, device, name)


# --------------------------------------------------------------------------------------------
# Finding weights for a released model


def cache_dir() -> Path:
    """The package's cache folder (read from the environment on every call)."""
    env = os.environ.get("PYTORCH_PRETRAINED_BIGGAN_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".pytorch_pretrained_biggan"


def offline() -> bool:
    truthy = {"1", "true", "yes", "on"}
    return (os.environ.get("REGIONPRIMS_OFFLINE", "").strip().lower() in truthy
            or os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in truthy)


def _package_cached_file(url: str, where: Path) -> Path | None:
    """The newest file the package cached for `url` (named sha256(url) or sha256(url).sha256(etag))."""
    if not where.is_dir():
        return None
    stem = hashlib.sha256(url.encode("utf-8")).hexdigest()
    found = [p for p in where.glob(stem + "*") if p.is_file() and not p.name.endswith(".json")
             and (p.name == stem or p.name.startswith(stem + "."))]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _hf_cached(name: str) -> tuple[Path, Path] | None:
    if name not in HF_MIRRORS:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    repo, rev = HF_MIRRORS[name]
    paths = []
    for fname in (CONFIG_NAME, WEIGHTS_NAME):
        try:
            p = try_to_load_from_cache(repo_id=repo, filename=fname, revision=rev)
        except Exception:
            return None
        if not isinstance(p, str) or not os.path.isfile(p):
            return None
        paths.append(Path(p))
    return paths[0], paths[1]


def find_local_weights(name: str) -> tuple[Path, Path] | None:
    """(config, weights) already on this machine for a released model; never uses the network."""
    if name not in BIGGAN_NAMES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    where = cache_dir()
    sub = where / name
    if sub.is_dir() and (sub / CONFIG_NAME).is_file() and _weights_in_folder(sub) is not None:
        return sub / CONFIG_NAME, _weights_in_folder(sub)
    cfg = _package_cached_file(PACKAGE_URLS[name]["config"], where)
    wts = _package_cached_file(PACKAGE_URLS[name]["weights"], where)
    if cfg is not None and wts is not None:
        return cfg, wts
    return _hf_cached(name)


def how_to_get_weights(name: str) -> str:
    """One line telling a user how to get the weights of a released model."""
    if name not in BIGGAN_NAMES:
        raise UserError(f"unknown BigGAN model {name!r}; known: {', '.join(BIGGAN_NAMES)}")
    sub = cache_dir() / name
    if name in HF_MIRRORS:
        repo, rev = HF_MIRRORS[name]
        src = (f"download config.json and pytorch_model.bin from https://huggingface.co/{repo} "
               f"(revision {rev[:7]})")
    else:
        src = f"download {PACKAGE_URLS[name]['config']} and {PACKAGE_URLS[name]['weights']} (saved as config.json and pytorch_model.bin)"
    return (f"To get the weights, {src} into a folder and pass --model FOLDER, or put them in {sub}/ "
            "(set PYTORCH_PRETRAINED_BIGGAN_CACHE to use another cache folder); "
            "or use --model demo, which works offline")


def _host_reachable(host: str, port: int = 443, timeout: float = 3.0) -> str | None:
    """None when a TCP connection opens within `timeout` (name look-up included: it runs in a
    daemon thread, because getaddrinfo ignores socket timeouts), else the reason. Behind an
    HTTP(S) proxy the probe is skipped and the downloads' own timeouts apply."""
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    result: list[str | None] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(None)
        except OSError as e:
            result.append(f"{host} unreachable ({e.__class__.__name__}: {e})"[:160])

    worker = threading.Thread(target=probe, daemon=True, name=f"probe-{host}")
    worker.start()
    worker.join(timeout + 0.5)
    return result[0] if result else f"{host} unreachable (no answer within {timeout:.0f} s)"


def _download_package_file(url: str, where: Path) -> Path:
    """The package's get_from_cache (same file names), with timeouts and an atomic rename."""
    import requests
    resp = requests.head(url, allow_redirects=True, timeout=(3.05, 5))
    if resp.status_code != 200:
        raise OSError(f"HEAD {url} returned {resp.status_code}")
    etag = resp.headers.get("ETag")
    fname = hashlib.sha256(url.encode()).hexdigest()
    if etag:
        fname += "." + hashlib.sha256(etag.encode()).hexdigest()
    target = where / fname
    if target.is_file():
        return target
    where.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=where, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as f, requests.get(url, stream=True, timeout=(3.05, 60)) as r:
            r.raise_for_status()
            for block in r.iter_content(chunk_size=1 << 20):
                f.write(block)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    (where / (fname + ".json")).write_text(json.dumps({"url": url, "etag": etag}), encoding="utf-8")
    return target


def _try_package_download(name: str, notes: list[str]) -> tuple[Path, Path] | None:
    reason = _host_reachable("s3.amazonaws.com")
    if reason:
        notes.append(f"package download failed: {reason}")
        return None
    try:
        cfg = _download_package_file(PACKAGE_URLS[name]["config"], cache_dir())
        wts = _download_package_file(PACKAGE_URLS[name]["weights"], cache_dir())
        return cfg, wts
    except Exception as e:
        notes.append(f"package download failed: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}")
        return None


def _try_hf_download(name: str, notes: list[str]) -> tuple[Path, Path] | None:
    if name not in HF_MIRRORS:
        return None
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        notes.append("Hugging Face mirror skipped (huggingface_hub not installed)")
        return None
    reason = _host_reachable("huggingface.co")
    if reason:
        notes.append(f"Hugging Face mirror failed: {reason}")
        return None
    repo, rev = HF_MIRRORS[name]
    try:
        cfg = hf_hub_download(repo_id=repo, filename=CONFIG_NAME, revision=rev, etag_timeout=5)
        wts = hf_hub_download(repo_id=repo, filename=WEIGHTS_NAME, revision=rev, etag_timeout=5)
        return Path(cfg), Path(wts)
    except Exception as e:
        notes.append(f"Hugging Face mirror failed: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}")
        return None


def load_biggan(name_or_folder: str | os.PathLike, device: torch.device | str | None = "cpu") -> BigGANDeep:
    """Load, freeze and check a BigGAN-deep: a folder, or a released model name (see module doc)."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    text = os.fspath(name_or_folder)
    if text not in BIGGAN_NAMES:
        if Path(text).expanduser().is_dir():
            return load_folder(text, device)
        raise UserError(f"unknown BigGAN model {text!r}: use one of {', '.join(BIGGAN_NAMES)} "
                        "or a folder with config.json and pytorch_model.bin")
    name = text
    found = find_local_weights(name)
    notes: list[str] = []
    if found is None:
        if offline():
            notes.append("network skipped (REGIONPRIMS_OFFLINE/HF_HUB_OFFLINE is set)")
        else:
            found = _try_package_download(name, notes) or _try_hf_download(name, notes)
    if found is None:
        where = cache_dir()
        raise UserError(f"No weights for {name}: looked in {where / name}/ and in the "
                        f"pytorch-pretrained-biggan cache {where}; {'; '.join(notes)}. "
                        + how_to_get_weights(name) + ".")
    return load_from_files(found[0], found[1], device, name=name)
