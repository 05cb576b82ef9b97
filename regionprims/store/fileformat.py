"""The decomposition file (DESIGN §5): one safetensors file, no pickle. Tensors feature,
baseline, subsets, minimal, components, residual, player_masks (+ z, image, fit_loss, ranking);
header metadata key `regionprims` holds JSON with provenance, settings, metrics and a sha256 of
the tensor bytes, so that a foreign, truncated or tampered file is refused."""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from regionprims import __version__
from regionprims.method.decomposition import Decomposition
from regionprims.errors import UserError
from regionprims.method.specs import DecompositionSpec
from regionprims.store.atomic import write_atomic
from regionprims.store.filecheck import check_metadata, check_tensors, meta_layout, meta_settings, parse_json

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
            "precision": spec.precision,
            "settings": asdict(spec.settings), "versions": versions(), "metrics": dec.metrics,
            "info": dec.info, "sha256": digest}


def to_bytes(dec: Decomposition) -> bytes:
    tensors = _tensors(dec)
    meta = metadata(dec, _digest(tensors))
    return st_save(tensors, metadata={"regionprims": json.dumps(meta)})


def save_decomposition(dec: Decomposition, path: str | Path) -> Path:
    return write_atomic(path, to_bytes(dec))


MAX_HEADER = 16 * 2 ** 20     # bytes of safetensors header JSON (ours are a few kB)


def _header(data: bytes, where: str) -> dict:
    """The checked `regionprims` metadata of a file's bytes (the header only)."""
    if len(data) < 8:
        raise UserError(f"{where} is not a decomposition file (too short)")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data) or n > MAX_HEADER:
        raise UserError(f"{where} is not a safetensors decomposition file (bad or truncated header)")
    try:
        text = data[8:8 + n].decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{where} is not a safetensors decomposition file (unreadable header)") from None
    header = parse_json(text, where, "header")
    extra = header.get("__metadata__") if isinstance(header, dict) else None
    meta = extra.get("regionprims") if isinstance(extra, dict) else None
    if not isinstance(meta, str):
        raise UserError(f"{where} is not a regionprims decomposition (no 'regionprims' metadata)")
    meta = parse_json(meta, where, "'regionprims' metadata")
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise UserError(f"{where} is not a regionprims decomposition (format {str(fmt)[:40]!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{where} has format version {str(meta.get('format_version'))[:20]}; "
                        f"this regionprims reads {FORMAT_VERSION}")
    return check_metadata(meta, where)


def from_bytes(data: bytes, where: str = "the file") -> Decomposition:
    """A Decomposition from file bytes, every field and tensor checked (store.filecheck)."""
    meta = _header(data, where)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise UserError(f"{where} is truncated or damaged ({str(exc)[:200]})") from None
    names = set(REQUIRED + EXTRA)
    if set(tensors) != names:
        wrong = sorted(names ^ set(tensors))
        raise UserError(f"{where} lacks or has unexpected tensor(s) {', '.join(wrong[:5])}")
    if _digest(tensors) != meta["sha256"]:
        raise UserError(f"{where} was modified after it was written (checksum mismatch)")
    layout = meta_layout(meta, where)
    check_tensors(tensors, layout, where)
    spec = DecompositionSpec(model=meta["model"], model_identity=meta["model_identity"], class_id=meta["class_id"],
                             seed=meta["seed"], truncation=float(meta["truncation"]), split=meta["split"],
                             layout=layout, settings=meta_settings(meta, where),
                             rank_by=meta.get("rank_by", "norm"), precision=meta.get("precision", "fp32"))
    return Decomposition(spec=spec, z=tensors["z"], image=tensors["image"], feature=tensors["feature"],
                         baseline=tensors["baseline"], subsets=tensors["subsets"], minimal=tensors["minimal"],
                         components=tensors["components"], residual=tensors["residual"],
                         player_masks=tensors["player_masks"], fit_loss=tensors["fit_loss"],
                         ranking=tensors["ranking"].tolist(), metrics=meta.get("metrics", {}), info=meta.get("info", {}))


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise UserError(f"{path} is a folder, not a decomposition file")
    if not path.is_file():
        raise UserError(f"no such file: {path}")


def load_decomposition(path: str | Path) -> Decomposition:
    path = Path(path)
    _check_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    return from_bytes(data, where=str(path))


def read_metadata(path: str | Path) -> dict:
    """The JSON metadata of a file, checked for format but without reading the tensors."""
    path = Path(path)
    _check_path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            data = head + fh.read(min(n, MAX_HEADER))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _header(data, str(path))
