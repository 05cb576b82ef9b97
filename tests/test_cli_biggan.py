"""`regionprims decompose --model FOLDER ... --json --out FILE` end to end on a
small randomly initialised BigGAN-deep saved to a folder, read through the real loader, in a
subprocess as a user runs it; the report and the file pass the shared contract checker."""
import json
import os
import subprocess
import sys

import pytest

from test_biggan import _tiny_biggan, _write

from test_fileformat import CHECKER
METRICS = ["residual_ratio", "fit_psnr", "fit_error_mean", "additivity_error_top20", "leakage_top20", "sparsity_top20"]


@pytest.mark.slow
def test_decompose_random_biggan_folder(tmp_path):
    model, cfg = _tiny_biggan()
    folder = _write(tmp_path / "biggan", cfg, model.state_dict())
    out = tmp_path / "d.safetensors"
    env = {**os.environ, "REGIONPRIMS_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "regionprims", "decompose", "--model", str(folder), "--class", "3", "--seed", "1",
           "--layout", "3x3", "--json", "--out", str(out), "--steps", "2", "--baseline-codes", "4"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)                      # exactly one JSON object on stdout
    assert report["n_subsets"] == 512 and report["players"] == list(range(9)) and report["class_id"] == 3
    assert all(k in report["metrics"] for k in METRICS)
    assert "minimal features" in run.stderr               # progress on stderr
    (tmp_path / "r.json").write_text(run.stdout)
    check = subprocess.run([sys.executable, str(CHECKER), str(tmp_path / "r.json"), str(out)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert json.loads(again.stdout)["cache_hit"] is True
