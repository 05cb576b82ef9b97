"""The decomposition file (DESIGN §5): one safetensors file, no pickle. Tensors feature,
baseline, subsets, minimal, components, residual, player_masks (+ z, image, fit_loss, ranking);
header metadata key `regionprims` holds JSON with provenance, settings, metrics and a sha256 of
the tensor bytes, so that a foreign, truncated or tampered file is refused."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from regionprims import __version__
from regionprims.method.decomposition import Decomposition
from regionprims.errors import UserError
from regionprims.method.regions import Layout
from regionprims.method.specs import DecompositionSpec, OptimSettings

FORMAT = "regionprims-decomposition"
FORMAT_VERSION = 1
REQUIRED = ("feature", "baseline", "subsets", "minimal", "components", "residual", "player_masks")
EXTRA = ("z", "image", "fit_loss", "ranking")


def versions() -> dict:
    import safetensors
    return {"regionprims": __version__, "torch": torch.__version__, "safetensors": safetensors.__version__,
            "python": platform.python_version()}


def _tensors(dec: Decomposition) -> dict[str, torch.Tensor]:
    t = {"feature": dec.feature, "baseline": dec.baseline, "subsets": dec.subsets.to(torch.uint8),
         "minimal": dec.minimal, "components": dec.components, "residual": dec.residual,
         "player_masks": dec.player_masks, "z": dec.z, "image": dec.image, "fit_loss": dec.fit_loss,
         "ranking": torch.tensor(dec.ranking, dtype=torch.int64)}
    return {k: v.detach().cpu().contiguous() for k, v in t.items()}


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].numpy().tobytes())
    return h.hexdigest()


def metadata(dec: Decomposition, digest: str) -> dict:
    spec = dec.spec
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "model": spec.model,
            "model_identity": spec.model_identity, "split": spec.split, "class_id": spec.class_id,
            "class_name": dec.info.get("class_name"), "seed": spec.seed, "truncation": spec.truncation,
            "layout": asdict(spec.layout), "players": list(spec.layout.players), "rank_by": spec.rank_by,
            "settings": asdict(spec.settings), "versions": versions(), "metrics": dec.metrics,
            "info": dec.info, "sha256": digest}


def to_bytes(dec: Decomposition) -> bytes:
    tensors = _tensors(dec)
    meta = metadata(dec, _digest(tensors))
    return st_save(tensors, metadata={"regionprims": json.dumps(meta)})


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Temp file in the same folder, then rename: the file is either complete or untouched,
    so a crash or a cancel never leaves a half-written result."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_decomposition(dec: Decomposition, path: str | Path) -> Path:
    return write_atomic(path, to_bytes(dec))


def _header(data: bytes, where: str) -> dict:
    if len(data) < 8:
        raise UserError(f"{where} is not a decomposition file (too short)")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise UserError(f"{where} is not a safetensors decomposition file (bad or truncated header)")
    try:
        header = json.loads(data[8:8 + n])
    except ValueError:
        raise UserError(f"{where} is not a safetensors decomposition file (unreadable header)") from None
    meta = (header.get("__metadata__") or {}).get("regionprims")
    if meta is None:
        raise UserError(f"{where} is a safetensors file but not a regionprims decomposition (no 'regionprims' metadata)")
    try:
        meta = json.loads(meta)
    except ValueError:
        raise UserError(f"{where}: the 'regionprims' metadata is not valid JSON") from None
    if meta.get("format") != FORMAT:
        raise UserError(f"{where} is not a regionprims decomposition (format {meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{where} has format version {meta.get('format_version')}; this regionprims reads {FORMAT_VERSION}")
    return meta


def from_bytes(data: bytes, where: str = "the file") -> Decomposition:
    meta = _header(data, where)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise UserError(f"{where} is truncated or damaged ({exc})") from None
    missing = [k for k in REQUIRED + EXTRA if k not in tensors]
    if missing:
        raise UserError(f"{where} lacks tensor(s) {', '.join(missing)}")
    if _digest({k: tensors[k] for k in REQUIRED + EXTRA}) != meta.get("sha256"):
        raise UserError(f"{where} was modified after it was written (checksum mismatch)")
    k, n = tensors["subsets"].shape
    if k != 2 ** n or tensors["minimal"].shape[0] != k or tensors["components"].shape[0] != k:
        raise UserError(f"{where} has inconsistent shapes")
    spec = DecompositionSpec(model=meta["model"], model_identity=meta["model_identity"], class_id=meta["class_id"],
                             seed=meta["seed"], truncation=meta["truncation"], split=meta["split"],
                             layout=Layout(**{**meta["layout"], "players": tuple(meta["layout"]["players"])}),
                             settings=OptimSettings(**meta["settings"]), rank_by=meta.get("rank_by", "norm"))
    return Decomposition(spec=spec, z=tensors["z"], image=tensors["image"], feature=tensors["feature"],
                         baseline=tensors["baseline"], subsets=tensors["subsets"], minimal=tensors["minimal"],
                         components=tensors["components"], residual=tensors["residual"],
                         player_masks=tensors["player_masks"], fit_loss=tensors["fit_loss"],
                         ranking=tensors["ranking"].tolist(), metrics=meta.get("metrics", {}), info=meta.get("info", {}))


def load_decomposition(path: str | Path) -> Decomposition:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    return from_bytes(path.read_bytes(), where=str(path))


def read_metadata(path: str | Path) -> dict:
    """The JSON metadata of a file, checked for format but without reading the tensors."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    with open(path, "rb") as fh:
        head = fh.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        data = head + fh.read(min(n, 100_000_000))
    return _header(data, str(path))
