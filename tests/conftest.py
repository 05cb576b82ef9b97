import os
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
torch.set_num_threads(min(2, os.cpu_count() or 1))

from regionprims import allocator  # noqa: E402

allocator.tune()     # as the CLI and the explorer do (regionprims/allocator.py)


@pytest.fixture(scope="session")
def tiny_gen():
    from tiny_generator import TinyGenerator
    return TinyGenerator(seed=0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test writes into the repository's cache/ folder, nor reads the user's Hugging Face cache."""
    monkeypatch.setenv("REGIONPRIMS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-hub"))
