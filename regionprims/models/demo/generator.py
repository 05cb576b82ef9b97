"""The bundled demo generator as a generator family (models.base.Generator): the trained network
(network.py) split at its block outputs, with its inputs checked, its weights loaded from
regionprims/data/demo_generator.safetensors with a SHA-256 checked on load, and the tail's
measured cost. Trained by regression on rendered scenes (regionprims.models.demo.train).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from regionprims.errors import UserError
from regionprims.validation import validate_seed, validate_truncation
from regionprims.models.demo.network import DemoNet, config_from_metadata
from regionprims.models.demo.scenes import DEMO_CLASSES, IMAGE_SIZE, Z_DIM
from regionprims.models.base import Generator, SplitContext, listed, sha256_file

WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_generator.safetensors"
WEIGHTS_SHA256 = "fdd28481aaa93e9ea58f4338fae8e3b0ca7b3502cb8ec03fc84b294902faefa5"

SPLIT_POINTS: tuple[str, ...] = ("blocks.0", "blocks.1", "blocks.2")
DEFAULT_SPLIT = "blocks.0"


def weights_present() -> bool:
    return WEIGHTS_PATH.is_file()


class DemoGenerator(Generator):
    """The generator contract over a trained `DemoNet`; frozen, eval mode. Its facts are the
    class attributes below, which the registry lists without loading the weights."""

    name = "demo"
    kind = "demo"
    description = "the bundled demo: procedural scenes with a known ground truth; runs on a CPU"
    image_size = IMAGE_SIZE
    z_dim = Z_DIM
    class_names: tuple[str, ...] = DEMO_CLASSES
    split_points: tuple[str, ...] = SPLIT_POINTS
    default_split = DEFAULT_SPLIT
    source = "bundled"

    def __init__(self, net: DemoNet, sha256: str, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.sha256 = sha256
        self.identity = "demo:" + sha256[:16]
        self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            self.net.blocks.to(memory_format=torch.channels_last)
            self.net.out_conv.to(memory_format=torch.channels_last)

    # -- the registry's hooks ----------------------------------------------------------------
    @classmethod
    def weights_present(cls, model: str) -> bool:
        return weights_present()

    @classmethod
    def how_to_get(cls, model: str) -> str:
        return ("The demo weights ship inside regionprims (regionprims/data/); "
                "reinstall regionprims if they are missing")

    @classmethod
    def load(cls, model: str, device: torch.device) -> DemoGenerator:
        return load_demo(device)

    # -- validation ------------------------------------------------------------------------
    @staticmethod
    def _check_finite(x: Tensor, what: str) -> Tensor:
        if not torch.isfinite(x).all():
            raise UserError(f"the demo generator produced non-finite values in the {what} "
                            "(corrupt weights or a non-finite input feature)")
        return x

    # -- protocol --------------------------------------------------------------------------
    def sample_z(self, seed: int, truncation: float, batch: int = 1) -> Tensor:
        seed = validate_seed(seed)
        t = validate_truncation(truncation)
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(batch, self.z_dim, generator=g).clamp_(-2.0, 2.0)
        return (t * z).to(self.device)

    def _cond(self, class_id: int) -> Tensor:
        return self.net.cond(torch.tensor([class_id], device=self.device))

    def _prep(self, h: Tensor) -> Tensor:
        return h.contiguous(memory_format=torch.channels_last) if self.channels_last else h

    def head(self, z: Tensor, class_id: int, truncation: float, split: str) -> tuple[Tensor, SplitContext]:
        class_id = self.check_class(class_id)
        t = validate_truncation(truncation)
        idx = self.check_split(split)
        z = self.as_z(z)
        cond = self._cond(class_id)
        h = self.net.run_blocks(self._prep(self.net.stem(z, cond)), cond, 0, idx + 1)
        h = self._check_finite(h.contiguous(), "feature")
        return h, SplitContext(split=split, cond=cond.detach(), truncation=t)

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        idx = self.check_split(ctx.split)
        self.check_feature(feature, ctx.split)
        cond = ctx.cond.to(self.device)
        if cond.dim() == 1:
            cond = cond.unsqueeze(0)
        x = self.net.run_blocks(self._prep(feature.to(self.device)), cond, idx + 1, len(self.net.blocks))
        img = self.net.to_image(x).contiguous()
        return self._check_finite(img, "image")

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        class_id = self.check_class(class_id)
        validate_truncation(truncation)
        z = self.as_z(z)
        cond = self._cond(class_id)
        h = self.net.run_blocks(self._prep(self.net.stem(z, cond)), cond, 0, len(self.net.blocks))
        return self._check_finite(self.net.to_image(h).contiguous(), "image")

    def ground_truth_scores(self, z: Tensor, class_id: int, ranked_energy: list, subsets: Tensor,
                            player_masks: Tensor) -> dict[str, float]:
        """gt_ scores: the demo knows which regions each latent part draws (groundtruth.py)."""
        from regionprims.models.demo.groundtruth import gt_interaction_scores, gt_scores
        from regionprims.models.demo.planted import scene_interactions
        from regionprims.models.demo.scenes import scene_objects
        objects = scene_objects(z, class_id)
        return {**gt_scores(objects, ranked_energy, subsets, player_masks),
                **gt_interaction_scores(scene_interactions(z, class_id), objects, ranked_energy, subsets, player_masks)}

    def feature_shape(self, split: str) -> tuple[int, int, int]:
        idx = self.check_split(split)
        ch = self.net.config["channels"]
        size = int(self.net.config["base_size"]) * 2 ** (idx + 1)
        return (int(ch[idx + 1]), size, size)


DEMO_INFO: dict = listed(DemoGenerator)   # the demo's `models --json` row but weights_present


def net_from_file(path: Path) -> tuple[DemoNet, dict[str, str]]:
    from safetensors import safe_open
    from safetensors.torch import load_file

    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's corrupt file
        raise UserError(f"cannot read demo weights {path}: {exc}") from None
    net = DemoNet(config_from_metadata(meta))
    state = {k: v.float() for k, v in state.items()}
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise UserError(f"demo weights {path} do not fit the demo architecture: {exc}") from None
    return net, meta


def load_demo(device: torch.device | str | None = None, path: Path | str | None = None,
              expected_sha256: str | None = None) -> DemoGenerator:
    """Load the bundled (or a given) demo generator, checking the weights' SHA-256.
    `expected_sha256` defaults to WEIGHTS_SHA256 for the bundled file and to no check for a
    file given explicitly."""
    p = Path(path) if path is not None else WEIGHTS_PATH
    if not p.is_file():
        raise UserError(f"demo generator weights not found at {p}; train them with "
                        "`regionprims train-demo --out regionprims/data/demo_generator.safetensors`")
    digest = sha256_file(p)
    expected = expected_sha256 if expected_sha256 is not None else (WEIGHTS_SHA256 if path is None else None)
    if expected and digest != expected:
        raise UserError(f"demo weights {p} failed the checksum (sha256 {digest[:16]}..., expected "
                        f"{expected[:16]}...): the file is corrupt or was replaced; restore it from git")
    net, _ = net_from_file(p)
    return DemoGenerator(net, digest, device=device)


def measure_tail_cost(gen: DemoGenerator, batch: int = 512, repeats: int = 5,
                      split: str | None = None) -> dict:
    """Seconds for one forward+backward (gradient w.r.t. the feature, as the decomposition
    uses it) of the tail on a batch of features; the median and the best of `repeats`, and the
    median process CPU time (all threads; ~threads x wall time on an idle machine)."""
    import statistics
    import time

    split = split or gen.default_split
    z = gen.sample_z(0, 1.0, 1)
    f, ctx = gen.head(z, 0, 1.0, split)
    times, cpu = [], []
    for _ in range(repeats + 1):
        feats = (f.detach().expand(batch, -1, -1, -1) + 0.01).requires_grad_(True)
        t0, c0 = time.perf_counter(), time.process_time()
        gen.tail(feats, ctx).square().mean().backward()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    times, cpu = times[1:], cpu[1:]   # the first call warms up the allocator
    return {"split": split, "batch": batch, "median_s": statistics.median(times), "best_s": min(times),
            "cpu_s_median": statistics.median(cpu), "threads": torch.get_num_threads()}
