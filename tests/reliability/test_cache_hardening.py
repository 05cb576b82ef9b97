"""The result cache cannot be broken from its folder: whatever sits at an entry's path or a lock's
path (a directory, a FIFO, a socket, a symlink to /dev/zero or to someone's file) is a miss that is
removed and recomputed, never followed, never read without bound; `cache clear` removes it; a lock
held by another process is said on stderr within seconds; a cache that cannot be written (full
disk, read-only, quota) costs a warning, never the result.

Cases that could hang or eat memory on a careless cache (a FIFO, /dev/zero, a held lock) run in a
subprocess with a timeout (and a memory limit), so that they fail rather than stall the suite."""
import errno
import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reliability_helpers import SMALL, run

KEY = "v4/decomposition/" + "ab" * 16
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}

READ_IN_CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))     # a careless read fails, not the machine
from regionprims.store.cache import ResultCache
cache = ResultCache(sys.argv[1])
key = sys.argv[2]
got = cache.get_bytes(key)
present = key in cache
cache.set_bytes(key, b"fresh")
# this process's own peak (VmHWM starts anew at exec; ru_maxrss keeps the forking parent's peak)
rss_mb = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024
print(json.dumps({"got": None if got is None else got[:20].decode("latin-1"), "present": present,
                  "again": cache.get_bytes(key).decode(), "rss_mb": rss_mb}))
"""


def _cache(path):
    from regionprims.store.cache import ResultCache
    return ResultCache(path)


def _plant(path: Path, kind: str, outside: Path) -> None:
    """Put `kind` at `path` (an entry's or a lock's place); `outside` is a folder that is not the cache's."""
    from regionprims.store.cache import pack
    outside.mkdir(exist_ok=True)
    if kind == "dir":
        path.mkdir()
        (path / "inside.txt").write_text("x")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        os.mknod(path, stat.S_IFSOCK | 0o600)
    elif kind == "devzero":
        path.symlink_to("/dev/zero")
    elif kind == "symlink_file":                       # someone's file, shaped as a valid entry for the key
        target = outside / "theirs.entry"
        target.write_bytes(pack(KEY, b"planted payload"))
        path.symlink_to(target)
    elif kind == "symlink_dir":
        (outside / "theirs").mkdir()
        (outside / "theirs" / "keep.txt").write_text("keep")
        path.symlink_to(outside / "theirs")
    elif kind == "dangling":                           # following it would create their file
        path.symlink_to(outside / f"created-{path.name}")
    else:
        raise AssertionError(kind)


def _outside_intact(outside: Path) -> None:
    """Nothing outside the cache was deleted, changed or created through a planted link."""
    from regionprims.store.cache import pack
    if (outside / "theirs.entry").exists() or (outside / "theirs.entry").is_symlink():
        assert (outside / "theirs.entry").read_bytes() == pack(KEY, b"planted payload")
    if (outside / "theirs").exists():
        assert (outside / "theirs" / "keep.txt").read_text() == "keep"
    assert not list(outside.glob("created-*")), list(outside.iterdir())


@pytest.mark.parametrize("kind", ["dir", "fifo", "devzero", "symlink_file"])
def test_planted_entry_is_a_bounded_miss(tmp_path, kind):
    """At an entry's path: a miss (never read through, never a hang, never unbounded memory),
    removed, and the next write and read work."""
    cache_dir, outside = tmp_path / "c", tmp_path / "outside"
    path = _cache(cache_dir)._path(KEY)
    _plant(path, kind, outside)
    start = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-c", READ_IN_CHILD, str(cache_dir), KEY], env=ENV,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading a {kind} at an entry's path hung")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["got"] is None and report["present"] is False and report["again"] == "fresh", report
    assert report["rss_mb"] < 600 and time.monotonic() - start < 30, report
    assert stat.S_ISREG(os.lstat(path).st_mode)
    _outside_intact(outside)


def _decompose(capsys, cache_dir, *extra):
    code, out, err = run(capsys, "decompose", *SMALL, "--json", "--quiet", "--cache-dir", cache_dir, *extra)
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out), err


def test_directory_at_entry_paths_is_recomputed_and_cleared(use_tiny, small_spec, capsys, tmp_path):
    from regionprims.pipeline import baseline_key, decomposition_key
    cache_dir = tmp_path / "c"
    first, _ = _decompose(capsys, cache_dir)
    cache = _cache(cache_dir)
    paths = [cache._path(decomposition_key(small_spec)), cache._path(baseline_key(small_spec))]
    for path in paths:
        path.unlink()
        _plant(path, "dir", tmp_path / "outside")
    again, _ = _decompose(capsys, cache_dir)
    assert again["cache_hit"] is False and again["metrics"] == first["metrics"]
    assert all(stat.S_ISREG(os.lstat(p).st_mode) for p in paths)
    assert _decompose(capsys, cache_dir)[0]["cache_hit"] is True
    for path in paths:
        path.unlink()
        _plant(path, "dir", tmp_path / "outside")
    code, out, err = run(capsys, "cache", "clear", "--cache-dir", cache_dir)
    assert code == 0, err
    assert not any(os.path.lexists(p) for p in paths)


def test_symlink_to_an_entry_elsewhere_is_not_followed(use_tiny, small_spec, capsys, tmp_path):
    """A link to a sound entry outside the folder is neither served nor deleted through."""
    from regionprims.pipeline import decomposition_key
    cache_dir, outside = tmp_path / "c", tmp_path / "outside"
    _decompose(capsys, cache_dir)
    path = _cache(cache_dir)._path(decomposition_key(small_spec))
    outside.mkdir()
    theirs = outside / "theirs.entry"
    sound = path.read_bytes()
    theirs.write_bytes(sound)
    path.unlink()
    path.symlink_to(theirs)
    report, _ = _decompose(capsys, cache_dir)
    assert report["cache_hit"] is False
    assert stat.S_ISREG(os.lstat(path).st_mode) and theirs.read_bytes() == sound


def test_cache_clear_removes_whatever_is_planted(capsys, tmp_path):
    """Every kind at entry places, lock places and stale temp places goes; targets of links stay."""
    from regionprims.store.atomic import TEMP_MARK
    cache_dir, outside = tmp_path / "c", tmp_path / "outside"
    cache = _cache(cache_dir)
    cache.set_bytes("v4/study/real", b"{}")
    kinds = ["dir", "fifo", "socket", "devzero", "symlink_file", "symlink_dir", "dangling"]
    for i, kind in enumerate(kinds):
        _plant(cache.entries / f"{i:040d}.entry", kind, outside)
    for kind in ("dir", "fifo", "dangling"):
        _plant(cache.locks / f"v4_decomposition_{kind}", kind, outside)
    dead = _dead_pid()
    for kind in ("fifo", "dangling"):
        _plant(cache.entries / f".x{kind}.entry{TEMP_MARK}{dead}-0123abcd", kind, outside)
    code, out, err = run(capsys, "cache", "clear", "--cache-dir", cache_dir)
    assert code == 0 and "removed" in out, err
    assert os.listdir(cache.entries) == [] and os.listdir(cache.locks) == []
    _outside_intact(outside)


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_planted_cache_subfolders(use_tiny, capsys, tmp_path):
    """`entries` as a link to someone's folder and `locks` as a file: replaced by real folders;
    nothing is written into theirs, and the cache works."""
    cache_dir, outside = tmp_path / "c", tmp_path / "outside"
    outside.mkdir()
    cache_dir.mkdir()
    (cache_dir / "entries").symlink_to(outside)
    (cache_dir / "locks").write_text("not a folder")
    assert _decompose(capsys, cache_dir)[0]["cache_hit"] is False
    assert list(outside.iterdir()) == []
    assert (cache_dir / "entries").is_dir() and not (cache_dir / "entries").is_symlink()
    assert _decompose(capsys, cache_dir)[0]["cache_hit"] is True


@pytest.mark.parametrize("kind", ["dir", "dangling"])
def test_planted_lock_path(use_tiny, small_spec, capsys, tmp_path, kind):
    """A directory or a link at a lock's path: the decomposition is still done and reported, and
    nothing is created through the link."""
    from regionprims.pipeline import decomposition_key
    cache_dir, outside = tmp_path / "c", tmp_path / "outside"
    locks = _cache(cache_dir).locks
    _plant(locks / decomposition_key(small_spec).replace("/", "_"), kind, outside)
    report, err = _decompose(capsys, cache_dir)
    assert report["cache_hit"] is False and len(err.strip().splitlines()) <= 1, err
    _outside_intact(outside)


DEMO = ["--model", "demo", "--class", "1", "--seed", "1", "--layout", "2x2", "--steps", "3", "--baseline-codes", "4"]


def _demo_lock_path(cache_dir: Path) -> Path:
    from regionprims.method.specs import OptimSettings
    from regionprims.models.registry import load_generator
    from regionprims.pipeline import decomposition_key, make_spec
    spec = make_spec(load_generator("demo"), 1, 1, layout="2x2", settings=OptimSettings(steps=3, baseline_codes=4))
    return _cache(cache_dir).locks / decomposition_key(spec).replace("/", "_")


def test_held_lock_is_said_on_stderr(tmp_path):
    """Another process holds the key's lock: within seconds of reaching it, the CLI says what it waits
    for and on which lock, and goes on waiting."""
    import fcntl
    cache_dir = tmp_path / "c"
    lock_path = _demo_lock_path(cache_dir)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    proc = subprocess.Popen([sys.executable, "-m", "regionprims", "decompose", *DEMO, "--json", "--quiet",
                             "--cache-dir", str(cache_dir)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 90                 # the child's start (imports, model) on a busy machine
        while time.monotonic() < deadline and proc.poll() is None and not any("waiting" in s for s in lines):
            time.sleep(0.2)
        note = [s for s in lines if "waiting" in s]
        assert note, f"no note after 90 s; stderr: {lines}"
        assert "another regionprims process" in note[0] and "decomposition" in note[0]
        assert str(lock_path) in note[0] and not note[0].startswith("error")
        time.sleep(1)
        assert proc.poll() is None, "stopped waiting for a lock another process legitimately holds"
    finally:
        proc.kill()
        proc.wait()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@pytest.mark.parametrize("err_no", [errno.ENOSPC, errno.EROFS, errno.EDQUOT])
def test_unwritable_cache_keeps_the_result(use_tiny, capsys, tmp_path, monkeypatch, err_no):
    """The cache write fails after the work: JSON on stdout, --out written, one warning line, exit 0."""
    import regionprims.store.cache as cache_module
    from regionprims.store.fileformat import load_decomposition
    cache_dir, out = tmp_path / "c", tmp_path / "d.safetensors"
    real_write = cache_module.write_atomic

    def failing(path, data):
        if Path(cache_dir).resolve() in Path(path).resolve().parents:
            raise OSError(err_no, os.strerror(err_no), str(path))
        return real_write(path, data)

    monkeypatch.setattr(cache_module, "write_atomic", failing)
    report, err = _decompose(capsys, cache_dir, "--out", out)
    assert report["cache_hit"] is False and report["n_subsets"] == 16
    assert load_decomposition(out).spec.seed == 1
    warnings = [s for s in err.strip().splitlines() if s]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), err
    assert os.strerror(err_no) in warnings[0] and "not cached" in warnings[0]
    assert not [p for p in _cache(cache_dir).entries.iterdir()]     # no temp file left either


def test_failing_writes_warn_once_until_one_succeeds(tmp_path, monkeypatch, capsys):
    """Every caller of the cache (studies, estimates) is spared the exception; a full disk fails
    every write, so its warning is said once, and again only after a write has worked."""
    import regionprims.store.cache as cache_module
    cache = _cache(tmp_path / "c")
    real_write = cache_module.write_atomic
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(cache_module, "write_atomic", lambda path, data: (_ for _ in ()).throw(full))
    cache.set_bytes("v4/study/a", b"{}")
    cache.set_bytes("v4/study/b", b"{}")
    assert capsys.readouterr().err.count("warning:") == 1
    monkeypatch.setattr(cache_module, "write_atomic", real_write)
    cache.set_bytes("v4/study/c", b"{}")
    monkeypatch.setattr(cache_module, "write_atomic", lambda path, data: (_ for _ in ()).throw(full))
    cache.set_bytes("v4/study/d", b"{}")
    assert capsys.readouterr().err.count("warning:") == 1
    assert cache.keys() == ["v4/study/c"]


def test_unusable_lock_place_computes_with_a_warning(tmp_path, monkeypatch, capsys):
    """When no regular lock file can be had (it cannot be removed, the disk is full), the value is
    computed without the process lock, with one warning naming the lock and why."""
    from regionprims.store import locks
    cache = _cache(tmp_path / "c")
    monkeypatch.setattr(locks, "lock_fd", lambda path, folder: (None, os.strerror(errno.ENOSPC)))
    value, hit = cache.get_or_compute("v4/study/x", lambda: b"computed", bytes, bytes, "the study x")
    err = capsys.readouterr().err.strip().splitlines()
    assert (value, hit) == (b"computed", False) and cache.get_bytes("v4/study/x") == b"computed"
    assert len(err) == 1 and err[0].startswith("warning: ") and "the study x" in err[0], err
    assert "No space left on device" in err[0] and str(cache.locks) in err[0]
