"""Reliability of the result cache (issue 10): nothing in the cache folder can run code, every
entry is checked (checksum, shape, finite values) and a bad one is recomputed, a damaged or
unusable folder never stops a command, and what killed writers leave is cleaned up."""
import json
import os
import pickle
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from reliability_helpers import SMALL, one_line_error, run


class Exploit:
    """What an attacker plants: unpickling it runs a shell command."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _metrics(capsys, cache_dir, *extra):
    code, out, err = run(capsys, "decompose", *SMALL, "--json", "--quiet", "--cache-dir", cache_dir, *extra)
    assert code == 0, err
    return json.loads(out)


def test_planted_pickles_never_run(use_tiny, small_spec, capsys, tmp_path):
    """A diskcache row that says 'pickle' (the old layout) and a pickle in place of an entry file."""
    import diskcache

    from regionprims import pipeline
    from regionprims.store.cache import ResultCache
    cache_dir, marker = tmp_path / "c", tmp_path / "pwned"
    keys = [pipeline.decomposition_key(small_spec)]
    if hasattr(pipeline, "baseline_key"):
        keys.append(pipeline.baseline_key(small_spec))
    legacy = diskcache.Cache(str(cache_dir / "data"))
    for key in keys:
        legacy.set(key, Exploit(marker))
    legacy.close()
    cache = ResultCache(cache_dir)
    if hasattr(cache, "_path"):                          # the plain-file layout: plant there too
        for key in keys:
            cache._path(key).write_bytes(pickle.dumps(Exploit(marker)))
    report = _metrics(capsys, cache_dir)
    assert not marker.exists(), "the cache unpickled a planted entry"
    assert report["cache_hit"] is False
    assert _metrics(capsys, cache_dir)["cache_hit"] is True


def _entry_payload_edit(cache, key, edit):
    """Rewrite the f0 tensor of a cached baseline entry in place, keeping the entry's envelope."""
    raw = cache.get_bytes(key)
    tensors = st_load(raw)
    tensors["f0"] = edit(tensors["f0"])
    path = cache._path(key)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - len(raw)] + st_save(tensors))


@pytest.mark.parametrize("how", ["bitflip", "scaled", "nan", "shape"])
def test_damaged_baseline_is_recomputed(use_tiny, small_spec, capsys, tmp_path, how):
    from regionprims.pipeline import baseline_key, decomposition_key
    from regionprims.store.cache import ResultCache
    cache_dir = tmp_path / "c"
    first = _metrics(capsys, cache_dir)
    cache = ResultCache(cache_dir)
    key = baseline_key(small_spec)
    if how == "bitflip":
        path = cache._path(key)
        data = bytearray(path.read_bytes())
        data[-7] ^= 0x10
        path.write_bytes(bytes(data))
    elif how == "scaled":                                 # the checksum no longer matches
        _entry_payload_edit(cache, key, lambda f0: f0 * 1.5)
    else:                                                 # a well-formed entry whose f0 is unusable
        f0 = st_load(cache.get_bytes(key))["f0"]
        bad = f0.clone().fill_(float("nan")) if how == "nan" else f0[:, :-1]
        cache.set_bytes(key, st_save({"f0": bad.contiguous(), "stability": torch.tensor([0.5])}))
    cache.delete(decomposition_key(small_spec))
    again = _metrics(capsys, cache_dir)
    assert again["cache_hit"] is False
    assert again["metrics"] == first["metrics"]            # the same numbers as from a sound baseline


def test_decomposition_entry_for_another_spec_is_recomputed(use_tiny, tiny_gen, small_spec, capsys, tmp_path):
    """A sound decomposition stored under another request's key is not served for it."""
    from dataclasses import replace

    from regionprims.pipeline import decompose, decomposition_key
    from regionprims.store.cache import ResultCache
    from regionprims.store.fileformat import to_bytes
    cache = ResultCache(tmp_path / "c")
    other = decompose(tiny_gen, replace(small_spec, seed=7))[0]
    cache.set_bytes(decomposition_key(small_spec), to_bytes(other))
    dec, hit = decompose(tiny_gen, small_spec, cache=cache)
    assert not hit and dec.spec.seed == 1


@pytest.mark.parametrize("damage", ["random", "truncated"])
def test_broken_cache_db_never_stops_a_command(use_tiny, capsys, tmp_path, damage):
    import diskcache
    cache_dir = tmp_path / "c"
    db = cache_dir / "data" / "cache.db"
    if damage == "random":
        db.parent.mkdir(parents=True)
        db.write_bytes(os.urandom(20000))
    else:
        legacy = diskcache.Cache(str(db.parent))
        for i in range(50):
            legacy.set(f"k{i}", b"x" * 5000)
        legacy.close()
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    assert _metrics(capsys, cache_dir)["cache_hit"] is False
    code, out, err = run(capsys, "cache", "info", "--cache-dir", cache_dir)
    entries = json.loads(out)["entries"]
    assert code == 0 and entries >= 2, err             # the baseline, the decomposition (and the estimate's)
    code, out, err = run(capsys, "cache", "clear", "--cache-dir", cache_dir)
    assert code == 0 and f"removed {entries} entries" in out, err
    assert not (cache_dir / "data").exists()


@pytest.mark.parametrize("where", ["file", "unwritable"])
def test_unusable_cache_folder(use_tiny, capsys, tmp_path, monkeypatch, where):
    """REGIONPRIMS_CACHE naming a file, or a folder nobody may write: decompose runs uncached with
    one warning; the cache commands say what is wrong in one line."""
    if where == "file":
        folder = tmp_path / "afile"
        folder.write_text("not a folder")
    else:
        folder = "/sys/kernel/regionprims-cache"        # sysfs: no new files, even for root
    monkeypatch.setenv("REGIONPRIMS_CACHE", str(folder))
    code, out, err = run(capsys, "decompose", *SMALL, "--json", "--quiet")
    assert code == 0 and json.loads(out)["cache_hit"] is False, err
    assert err.count("warning:") == 1 and "cache folder" in err and "Traceback" not in err
    for action in ("info", "clear"):
        code, _, err = run(capsys, "cache", action)
        one_line_error(code, err, "cache folder")


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_orphans_and_locks_cleaned(tmp_path):
    from regionprims.store.atomic import TEMP_MARK
    from regionprims.store.cache import ResultCache
    cache = ResultCache(tmp_path / "c")
    orphan = cache.entries / f".x.entry{TEMP_MARK}{_dead_pid()}-0123abcd"
    live = cache.entries / f".y.entry{TEMP_MARK}{os.getpid()}-0123abcd"
    orphan.write_bytes(b"x" * 1000)
    live.write_bytes(b"x")
    ResultCache(tmp_path / "c")                          # the next start
    assert not orphan.exists() and live.exists()
    with cache.lock("v3/decomposition/abc"):
        pass
    assert list(cache.locks.iterdir())
    cache.clear()
    assert not list(cache.locks.iterdir())


KILLED_WRITER = """
import os, signal, sys
from regionprims.store.fileformat import write_atomic
os.replace = lambda a, b: os.kill(os.getpid(), signal.SIGKILL)    # die between write and rename
write_atomic(sys.argv[1], b"x" * 2_000_000)
"""


def test_sigkill_during_out_leaves_nothing_at_next_start(use_tiny, capsys, tmp_path):
    target = tmp_path / "out" / "d.safetensors"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(target)], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert any(p.name.startswith(".") for p in target.parent.iterdir())     # the orphan is there
    code, _, err = run(capsys, "decompose", *SMALL, "--quiet", "--out", target)
    assert code == 0, err
    assert [p.name for p in target.parent.iterdir()] == ["d.safetensors"]


def test_size_bound_evicts_least_recently_used(tmp_path):
    from regionprims.store.cache import ResultCache
    cache = ResultCache(tmp_path / "c", size_limit=25_000)
    for i in range(3):
        cache.set_bytes(f"v3/t/{i}", bytes(10_000))
        os.utime(cache._path(f"v3/t/{i}"), (1000 + i, 1000 + i))
    cache.get_bytes("v3/t/1")                            # used: survives the next eviction
    cache.set_bytes("v3/t/3", bytes(10_000))
    assert [f"v3/t/{i}" in cache for i in range(4)] == [False, True, False, True]


def test_keys_are_listed_from_entry_headers(tmp_path):
    from regionprims.store.cache import ResultCache
    cache = ResultCache(tmp_path / "c")
    cache.set_bytes("v3/study/abc", b"{}")
    cache.set_bytes("v3/decomposition/def", b"x")
    (cache.entries / ("0" * 40 + ".entry")).write_bytes(b"garbage")
    assert sorted(cache.keys()) == ["v3/decomposition/def", "v3/study/abc"]
