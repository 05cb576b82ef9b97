"""The study record: what a batch did, image by image, as `DIR/study.json` (with --out) and as a
copy in the result cache (key: stage `study`, the plan's id), so that a study can be found again
from its folder, its TOML file or the cache. Opening an image reads its decomposition file, or
the cache entry under the same key `decompose` uses."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator

from regionprims.errors import UserError
from regionprims.method.decomposition import Decomposition
from regionprims.store.cache import ResultCache, cache_key
from regionprims.store.fileformat import from_bytes, load_decomposition, write_atomic
from regionprims.study import schema
from regionprims.study.plan import StudyPlan
from regionprims.validation import printable, short

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
    def from_json(cls, d: object, folder: Path | None = None, where: str = "the study") -> "StudyRecord":
        """A record from its JSON, refused (one line) unless it has the shape of schema.RECORD, a
        valid plan and one entry per (class, seed) and per file. Its id is that of its plan (the
        stored study_id is not trusted)."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise UserError(f"{where} is not a regionprims study record")
        if d.get("format_version") != FORMAT_VERSION:
            raise UserError(f"{where} has study format version {printable(short(d.get('format_version')))}; "
                            f"this regionprims reads {FORMAT_VERSION}")
        schema.check(d, schema.RECORD, where)
        try:
            plan = StudyPlan.from_json(d["plan"]).validate()
        except UserError as exc:
            raise UserError(f"{where}: plan: {exc}") from None
        record = cls(plan=plan, model_identity=d["model_identity"], images=list(d["images"]),
                     created=d.get("created", 0.0), finished=d.get("finished"), folder=folder)
        check_entries(record, where)
        return record

    def label(self) -> str:
        p = self.plan
        classes = sorted({im.get("class_name") or str(im.get("class_id")) for im in self.images})
        text = (f"{p.model}: {len(classes)} classes ({', '.join(classes[:4])}{', …' if len(classes) > 4 else ''}) "
                f"× {len(p.seeds)} seeds, {p.layout}, {len(self.done())}/{len(self.images)} done")
        return printable(text)


class EntryMismatch(UserError):
    """A study entry that disagrees with its own file or cache entry: the study is refused, not
    reported with the image left out."""


def record_where(record: StudyRecord) -> str:
    """How an error names a study: its study.json, or its record in the cache."""
    return str(record.folder / STUDY_JSON) if record.folder is not None else f"cached study {record.study_id}"


def entry_name(image: dict) -> str:
    """How an error names one entry of a study."""
    return f"the entry for class {image.get('class_id')} seed {image.get('seed')}"


def check_entries(record: StudyRecord, where: str) -> None:
    """One entry per (class, seed), per file and per cache key; seeds of the plan; files inside
    the record's folder (no path, no link leading out)."""
    seen: dict[object, dict] = {}
    for image in record.images:
        name = entry_name(image)
        if image["seed"] not in record.plan.seeds:
            raise UserError(f"{where}: {name} has a seed that is not among the plan's seeds")
        for what, value in (("class and seed", (image["class_id"], image["seed"])), ("file", image.get("file")),
                            ("cache key", image.get("key"))):
            if value is None:
                continue
            first = seen.setdefault((what, value), image)
            if first is not image:
                shown = "" if what == "class and seed" else f" {printable(short(value))}"
                raise UserError(f"{where}: {name} repeats the {what}{shown} of {entry_name(first)}")
        if image.get("file") is not None and record.folder is not None:
            image_path(record.folder, image["file"], f"{where}: {name}")


def image_path(folder: Path, file: str, where: str) -> Path:
    """The path of an entry's file: a plain name whose real path is inside the folder."""
    path = folder / file
    try:
        inside = Path(file).name == file and file not in (".", "..") and \
            path.resolve().parent == folder.resolve()
    except (OSError, RuntimeError, ValueError):
        inside = False
    if not inside:
        raise UserError(f"{where}: its file {printable(short(file))} is outside the study folder "
                        "(entries name files in the folder itself)")
    return path


def check_matches(record: StudyRecord, image: dict, dec: Decomposition, source: str) -> Decomposition:
    """`dec` if its own metadata agree with the entry that served it and with the study (class,
    seed, model identity, layout, class name); else the entry is refused."""
    spec, plan = dec.spec, record.plan
    expected = {"class": (image["class_id"], spec.class_id), "seed": (image["seed"], spec.seed),
                "model identity": (record.model_identity, spec.model_identity),
                "layout": (plan.layout, spec.layout.name)}
    if plan.players is not None:
        expected["players"] = (tuple(plan.players), tuple(spec.layout.players))
    if image.get("class_name") is not None and dec.info.get("class_name") is not None:
        expected["class name"] = (image["class_name"], dec.info["class_name"])
    wrong = [f"{k} {printable(short(got))} (study: {printable(short(want))})"
             for k, (want, got) in expected.items() if want != got]
    if wrong:
        raise EntryMismatch(f"{record_where(record)}: {entry_name(image)} disagrees with its {source}, which holds "
                            f"{'; '.join(wrong)}; the study record does not describe its files")
    return dec


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
        raise UserError(f"{path} is not valid JSON ({printable(str(exc))[:200]})") from None
    except RecursionError:
        raise UserError(f"{path} is nested too deeply to be a study record") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    return StudyRecord.from_json(data, folder=folder, where=str(path))


def load_cached(cache: ResultCache, study_id: str) -> StudyRecord | None:
    data = cache.get_bytes(study_key(study_id))
    if data is None:
        return None
    try:
        return StudyRecord.from_json(json.loads(data), where=f"cached study {study_id}")
    except (UserError, ValueError, UnicodeDecodeError, RecursionError):
        cache.delete(study_key(study_id))      # unreadable: forget it (the images stay cached)
        return None


def cached_studies(cache: ResultCache) -> list[StudyRecord]:
    """Every study recorded in the cache, newest first."""
    prefix = study_key("")
    out = [load_cached(cache, k[len(prefix):]) for k in cache.keys() if k.startswith(prefix)]
    return sorted((r for r in out if r is not None), key=lambda r: r.created, reverse=True)


def trusted_model(record: StudyRecord, typed: Iterable[str | None] = ()) -> str:
    """The record's model if it may be loaded or described: a built-in, an installed entry point,
    a REGIONPRIMS_MODELS spec or one the user typed; refused otherwise (nothing is imported)."""
    from regionprims.models.registry import resolve_stored
    return resolve_stored(record.plan.model, record_where(record), typed=typed)


def open_study(target: str | Path, cache_dir: str | Path | None = None, model: str | None = None) -> StudyRecord:
    """A study from a folder with study.json, a TOML study file (its record in the cache) or a
    study id (the cache is opened only for the last two), whose model is trusted_model (with
    `model`, the one the user typed)."""
    record = _find_study(target, cache_dir, model)
    trusted_model(record, (model,))
    return record


def _find_study(target: str | Path, cache_dir: str | Path | None, model: str | None) -> StudyRecord:
    from regionprims.models.registry import resolve_stored
    from regionprims.study.plan import plan_from_mapping, read_study_file
    path = Path(target)
    if path.is_dir():
        return load_folder(path)
    if path.name == STUDY_JSON and path.is_file():
        return load_folder(path.parent)
    if path.suffix.lower() == ".toml":
        plan = plan_from_mapping(read_study_file(path))     # the model as `batch` takes it: --model wins
        study_id = replace(plan, model=model or resolve_stored(plan.model, str(path))).study_id()
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
    """The decomposition of one image: its file in the study folder, else the cache entry under
    its key; either must agree with the entry (check_matches)."""
    if record.folder is not None and image.get("file"):
        path = image_path(record.folder, image["file"], entry_name(image))
        if path.is_file():
            return check_matches(record, image, load_decomposition(path), f"file {printable(image['file'])}")
    data = cache.get_bytes(image.get("key", ""))
    if data is None:
        raise UserError(f"class {image.get('class_id')} seed {image.get('seed')}: no file and no cache entry "
                        "(rerun the batch to compute it again)")
    dec = from_bytes(data, where=f"cache entry {printable(image['key'])}")
    return check_matches(record, image, dec, "cache entry")


def iter_images(record: StudyRecord, cache: ResultCache) -> Iterator[tuple[dict, Decomposition | str]]:
    """(entry, decomposition) for every finished image, one at a time (or the reason it is missing)."""
    for image in record.done():
        try:
            yield image, open_image(record, image, cache)
        except EntryMismatch:
            raise
        except UserError as exc:
            yield image, str(exc)


LOCK_FILE = ".regionprims-batch.lock"


@contextlib.contextmanager
def claim_folder(folder: Path, plan: StudyPlan) -> Iterator[None]:
    """Hold the folder's batch lock (exclusive, not waiting: two batches writing one study.json
    would lose one study) and refuse a folder that holds another study. Rerunning the same plan
    into its folder (a resume) is allowed."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as exc:
        raise UserError(f"cannot write the study folder {folder}: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"{folder}: another regionprims batch is writing this folder; wait for it to "
                            "finish, or give another --out") from None
        check_same_study(folder, plan)
        yield
    finally:
        os.close(fd)                        # closing the descriptor releases the lock


def check_same_study(folder: Path, plan: StudyPlan) -> None:
    """Refuse a folder whose study.json records another plan (its files would be mixed)."""
    if not (folder / STUDY_JSON).exists():
        return
    held = load_folder(folder)
    if held.study_id != plan.study_id():
        raise UserError(f"{folder} already holds another study ({held.study_id}: {held.label()}); give another "
                        f"--out, or resume that one with `regionprims batch --out {folder}`")
