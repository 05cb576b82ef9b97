"""The study record: what a batch did, image by image, as `DIR/study.json` (with --out) and as a
copy in the result cache (key: stage `study`, the plan's id), so that a study can be found again
from its folder, its TOML file or the cache. Opening an image reads its decomposition file, or
the cache entry under the same key `decompose` uses."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from regionprims.errors import UserError
from regionprims.method.decomposition import Decomposition
from regionprims.store.cache import ResultCache, cache_key
from regionprims.store.fileformat import from_bytes, load_decomposition, write_atomic
from regionprims.study.plan import StudyPlan

FORMAT = "regionprims-study"
FORMAT_VERSION = 1
STUDY_JSON = "study.json"
DONE, FAILED = "done", "failed"


@dataclass
class StudyRecord:
    """A study: its plan, model identity, and one entry per (class, seed)."""

    plan: StudyPlan
    model_identity: str = ""
    images: list[dict] = field(default_factory=list)   # class_id, class_name, seed, status, key, file, ...
    created: float = field(default_factory=time.time)
    finished: float | None = None
    folder: Path | None = None                          # where study.json lives (None: cache only)

    @property
    def study_id(self) -> str:
        return self.plan.study_id()

    def done(self) -> list[dict]:
        return [im for im in self.images if im.get("status") == DONE]

    def failed(self) -> list[dict]:
        return [im for im in self.images if im.get("status") == FAILED]

    def to_json(self) -> dict:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "study_id": self.study_id,
                "plan": self.plan.to_json(), "model_identity": self.model_identity, "created": self.created,
                "finished": self.finished, "images": self.images,
                "counts": {"images": len(self.images), "done": len(self.done()), "failed": len(self.failed())}}

    @classmethod
    def from_json(cls, d: dict, folder: Path | None = None, where: str = "the study") -> "StudyRecord":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise UserError(f"{where} is not a regionprims study record")
        if d.get("format_version") != FORMAT_VERSION:
            raise UserError(f"{where} has study format version {d.get('format_version')}; "
                            f"this regionprims reads {FORMAT_VERSION}")
        try:
            plan = StudyPlan.from_json(d["plan"])
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{where} has an unreadable plan ({exc})") from None
        return cls(plan=plan, model_identity=d.get("model_identity", ""), images=list(d.get("images", [])),
                   created=d.get("created", 0.0), finished=d.get("finished"), folder=folder)

    def label(self) -> str:
        p = self.plan
        classes = sorted({im.get("class_name") or str(im.get("class_id")) for im in self.images})
        return (f"{p.model}: {len(classes)} classes ({', '.join(classes[:4])}{', …' if len(classes) > 4 else ''}) "
                f"× {len(p.seeds)} seeds, {p.layout}, {len(self.done())}/{len(self.images)} done")


def study_key(study_id: str) -> str:
    return cache_key("study", study_id)


def save(record: StudyRecord, cache: ResultCache | None) -> None:
    """Write study.json (atomically) into the record's folder and the record into the cache."""
    data = json.dumps(record.to_json(), indent=1).encode()
    if record.folder is not None:
        write_atomic(record.folder / STUDY_JSON, data)
    if cache is not None:
        cache.set_bytes(study_key(record.study_id), data)


def image_file_name(class_id: int, class_name: str, seed: int) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", class_name.lower()).strip("-")[:40] or "class"
    return f"{class_id:04d}-{slug}-seed{seed}.safetensors"


def load_folder(folder: str | Path) -> StudyRecord:
    folder = Path(folder)
    path = folder / STUDY_JSON
    if not path.is_file():
        raise UserError(f"{folder} holds no {STUDY_JSON} (write one with `regionprims batch --out {folder}`)")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not valid JSON ({exc})") from None
    return StudyRecord.from_json(data, folder=folder, where=str(path))


def load_cached(cache: ResultCache, study_id: str) -> StudyRecord | None:
    data = cache.get_bytes(study_key(study_id))
    if data is None:
        return None
    try:
        return StudyRecord.from_json(json.loads(data), where=f"cached study {study_id}")
    except (UserError, ValueError, UnicodeDecodeError):
        cache.delete(study_key(study_id))      # unreadable: forget it (the images stay cached)
        return None


def cached_studies(cache: ResultCache) -> list[StudyRecord]:
    """Every study recorded in the cache, newest first."""
    prefix = study_key("")
    out = [load_cached(cache, k[len(prefix):]) for k in cache.keys() if k.startswith(prefix)]
    return sorted((r for r in out if r is not None), key=lambda r: r.created, reverse=True)


def open_study(target: str | Path, cache_dir: str | Path | None = None) -> StudyRecord:
    """A study from a folder with study.json, a TOML study file (its record in the cache) or a
    study id (the cache is opened only for the last two)."""
    from regionprims.study.plan import plan_from_mapping, read_study_file
    path = Path(target)
    if path.is_dir():
        return load_folder(path)
    if path.name == STUDY_JSON and path.is_file():
        return load_folder(path.parent)
    if path.suffix.lower() == ".toml":
        study_id = plan_from_mapping(read_study_file(path)).study_id()
    elif re.fullmatch(r"[0-9a-f]{16}", str(target)):
        study_id = str(target)
    else:
        raise UserError(f"{target} is neither a study folder, a .toml study file nor a study id")
    cache = ResultCache(cache_dir)
    record = load_cached(cache, study_id)
    if record is None:
        raise UserError(f"study {study_id} ({target}) is not in the cache {cache.directory}: run "
                        f"`regionprims batch` for it")
    return record


def open_image(record: StudyRecord, image: dict, cache: ResultCache) -> Decomposition:
    """The decomposition of one image: its file in the study folder, else the cache entry."""
    if record.folder is not None and image.get("file"):
        path = record.folder / image["file"]
        if path.is_file():
            return load_decomposition(path)
    data = cache.get_bytes(image.get("key", ""))
    if data is None:
        raise UserError(f"class {image.get('class_id')} seed {image.get('seed')}: no file and no cache entry "
                        "(rerun the batch to compute it again)")
    return from_bytes(data, where=f"cache entry {image['key']}")


def iter_images(record: StudyRecord, cache: ResultCache) -> Iterator[tuple[dict, Decomposition | str]]:
    """(entry, decomposition) for every finished image, one at a time (or the reason it is missing)."""
    for image in record.done():
        try:
            yield image, open_image(record, image, cache)
        except UserError as exc:
            yield image, str(exc)
