"""The decomposition file (docs/design.md §5): one safetensors file, no pickle. Tensors feature,
baseline, subsets, minimal, components, residual, player_masks (+ z, image, fit_loss, ranking);
header metadata key `regionprims` holds JSON with provenance, settings, metrics and a sha256
that covers every tensor (name, dtype, shape, bytes) and every other metadata field, so that a
foreign, truncated or tampered file (tensors or header) is refused. Files of format version 1
(whose sha256 covered the tensor bytes only) are still read, with a warning that their header is
unverified, and refused where verification is asked for."""
from __future__ import annotations

import hashlib
import json
import platform
import sys
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
from regionprims.store.filecheck import (check_dtypes, check_metadata, check_tensors, meta_layout, meta_settings,
                                         parse_json)
from regionprims.validation import printable

FORMAT = "regionprims-decomposition"
FORMAT_VERSION = 2
LEGACY_VERSION = 1            # sha256 of the tensor bytes only: header unverified
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


def _digest_v1(tensors: dict[str, torch.Tensor]) -> str:
    """Format version 1: the tensor bytes only (names and bytes; no dtype, shape or metadata)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        h.update(name.encode())
        h.update(tensors[name].numpy().tobytes())
    return h.hexdigest()


def canonical_metadata(meta: dict) -> bytes:
    """The metadata without its digest, as canonical JSON: what the digest covers besides the tensors."""
    rest = {k: v for k, v in meta.items() if k != "sha256"}
    return json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _digest(tensors: dict[str, torch.Tensor], meta: dict) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, then the canonical metadata."""
    h = hashlib.sha256(b"regionprims-decomposition-v2\0")
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"{name}\0{str(t.dtype)}\0{list(t.shape)}\0".encode())
        h.update(t.numpy().tobytes())
    h.update(b"\0")
    h.update(canonical_metadata(meta))
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


def sign(meta: dict, tensors: dict[str, torch.Tensor]) -> dict:
    """The metadata with its sha256 set over the tensors and the rest of the metadata."""
    return {**meta, "sha256": _digest(tensors, meta)}


def to_bytes(dec: Decomposition) -> bytes:
    tensors = _tensors(dec)
    meta = sign(metadata(dec, ""), tensors)
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
    version = meta.get("format_version")
    if isinstance(version, bool) or version not in (FORMAT_VERSION, LEGACY_VERSION):
        raise UserError(f"{where} has format version {printable(str(version)[:20])}; "
                        f"this regionprims reads {LEGACY_VERSION} and {FORMAT_VERSION}")
    return check_metadata(meta, where)


def unverified_header(meta: dict) -> bool:
    """Whether a file's header is not covered by its checksum (format version 1)."""
    return meta.get("format_version") == LEGACY_VERSION


def _legacy(where: str, verify: bool) -> None:
    """A version-1 file: refused when verification is asked for, else read with one warning line."""
    text = (f"{where} has format version {LEGACY_VERSION}: its checksum covers the tensors only, so its header "
            "(model, class, seed, settings, metrics) is unverified")
    if verify:
        raise UserError(f"{text}; re-save it with `regionprims export FILE --format safetensors --out NEW` "
                        "if you trust it")
    print(f"warning: {text}", file=sys.stderr)


def spec_of(meta: dict, where: str) -> DecompositionSpec:
    """The spec that a file's checked metadata describes (its layout and settings checked again)."""
    return DecompositionSpec(model=meta["model"], model_identity=meta["model_identity"], class_id=meta["class_id"],
                             seed=meta["seed"], truncation=float(meta["truncation"]), split=meta["split"],
                             layout=meta_layout(meta, where), settings=meta_settings(meta, where),
                             rank_by=meta.get("rank_by", "norm"), precision=meta.get("precision", "fp32"))


def peek(data: bytes, where: str = "the file") -> tuple[DecompositionSpec, dict, dict[str, list[int]]]:
    """(spec, metadata, tensor shapes) from a file's leading bytes: its header alone (8 bytes of
    length and the JSON), the tensors neither read nor verified. For listing what a folder or a
    cache holds; a file is checked in full only by from_bytes."""
    meta = _header(data, where)
    header = json.loads(data[8:8 + int.from_bytes(data[:8], "little")])
    shapes = {k: v.get("shape") for k, v in header.items() if k != "__metadata__" and isinstance(v, dict)}
    return spec_of(meta, where), meta, shapes


def from_bytes(data: bytes, where: str = "the file", verify: bool = False) -> Decomposition:
    """A Decomposition from file bytes, every field and tensor checked (store.filecheck). A
    version-1 file (header unverified) is read with a warning, or refused with `verify`."""
    meta = _header(data, where)
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError, TypeError) as exc:
        raise UserError(f"{where} is truncated or damaged ({printable(str(exc)[:200])})") from None
    names = set(REQUIRED + EXTRA)
    if set(tensors) != names:
        wrong = sorted(names ^ set(tensors))
        raise UserError(f"{where} lacks or has unexpected tensor(s) {printable(', '.join(wrong[:5]))[:200]}")
    check_dtypes(tensors, where)
    if unverified_header(meta):
        if _digest_v1(tensors) != meta["sha256"]:
            raise UserError(f"{where} was modified after it was written (checksum mismatch)")
        _legacy(where, verify)
    elif _digest(tensors, meta) != meta["sha256"]:
        raise UserError(f"{where} was modified after it was written (checksum mismatch)")
    spec = spec_of(meta, where)
    check_tensors(tensors, spec.layout, where)
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


def load_decomposition(path: str | Path, verify: bool = False) -> Decomposition:
    """A decomposition file, fully checked (see from_bytes; `verify` refuses an unverified header)."""
    path = Path(path)
    _check_path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    return from_bytes(data, where=str(path), verify=verify)


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
