"""The bundled demo generator: a small class-conditional generator of BigGAN's family.

Architecture (see docs/demo_model_card.md):

    z [32] ++ class embedding [E]  --linear-->  C0 x 6 x 6
    blocks.0  BigGAN residual up-block (CBN, nearest up, 2 conv3x3, 1x1 skip)  C0 -> C1, 6 -> 12
    blocks.1  CBN-ReLU-convT4x4/2, then u + conv3x3(ReLU(CBN(u)))              C1 -> C2, 12 -> 24
    blocks.2  CBN-ReLU-convT4x4/2                                               C2 -> C3, 24 -> 48
    (the three block outputs are the split points; default blocks.0 at 12 x 12)
    out       BN -> ReLU -> conv3x3 (C3 -> 3) -> tanh

The batch norms are conditioned on the CLASS EMBEDDING ONLY, not on z (BigGAN conditions them
on [z chunk, class]). Why: the decomposition holds the conditioning fixed and explains the image
by the feature at the split. If z also reached the tail through the batch-norm gains, part of
what the latent code contributes (an object's colour, say) would bypass the feature and no
feature decomposition could attribute it to a region. With class-only conditioning, everything
z changes in the image passes through the feature at the split, so the renderer's objects are
a real ground truth for the components.

The model is trained by regression on rendered scenes (regionprims.models.demo.train); weights ship
in regionprims/data/demo_generator.safetensors with a SHA-256 checked on load.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from regionprims.errors import UserError
from regionprims.validation import split_index, validate_class_index, validate_seed, validate_truncation
from regionprims.models.demo.scenes import DEMO_CLASSES, IMAGE_SIZE, Z_DIM
from regionprims.models.base import SplitContext, sha256_file

WEIGHTS_PATH = Path(__file__).resolve().parents[2] / "data" / "demo_generator.safetensors"
WEIGHTS_SHA256 = "fdd28481aaa93e9ea58f4338fae8e3b0ca7b3502cb8ec03fc84b294902faefa5"

DEFAULT_CONFIG: dict = {
    "z_dim": Z_DIM,
    "n_classes": len(DEMO_CLASSES),
    "embed_dim": 32,
    "channels": [128, 48, 24, 12],   # C0 (6x6), then the outputs of blocks.0/1/2
    "base_size": 6,
}

SPLIT_POINTS: tuple[str, ...] = ("blocks.0", "blocks.1", "blocks.2")
DEFAULT_SPLIT = "blocks.0"


class CondBatchNorm(nn.Module):
    """BatchNorm without affine parameters, then a per-class gain and bias computed from the
    class embedding: y = (1 + gain(e)) * bn(x) + bias(e)."""

    def __init__(self, channels: int, embed_dim: int):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Linear(embed_dim, channels)
        self.bias = nn.Linear(embed_dim, channels)
        nn.init.zeros_(self.gain.weight)
        nn.init.zeros_(self.gain.bias)
        nn.init.zeros_(self.bias.weight)
        nn.init.zeros_(self.bias.bias)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        g = 1 + self.gain(cond)
        b = self.bias(cond)
        if self.training:
            return self.bn(x) * g[:, :, None, None] + b[:, :, None, None]
        # eval: fold the running statistics into one per-channel scale and shift (one op)
        inv = torch.rsqrt(self.bn.running_var + self.bn.eps)
        scale = g * inv
        shift = b - self.bn.running_mean * scale
        return torch.addcmul(shift[:, :, None, None], x, scale[:, :, None, None])


class UpBlock(nn.Module):
    """BigGAN-style residual up-sampling block: CBN-ReLU-up-conv3x3-CBN-ReLU-conv3x3, plus a
    shortcut up-conv1x1 (blocks.0, head side, where cost does not matter)."""

    def __init__(self, cin: int, cout: int, embed_dim: int):
        super().__init__()
        self.bn1 = CondBatchNorm(cin, embed_dim)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn2 = CondBatchNorm(cout, embed_dim)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        h = F.relu(self.bn1(x, cond))
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.conv1(h)
        h = self.conv2(F.relu(self.bn2(h, cond)))
        return h + self.skip(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransposedUpBlock(nn.Module):
    """Cheap up-sampling block of the tail: CBN-ReLU-convT4x4/2 (cin -> cout), then, when
    `residual`, u + conv3x3(ReLU(CBN(u))). A transposed convolution up-samples and convolves in
    one op; nearest up-sampling followed by a 3x3 convolution costs ~4x more here, and
    element-wise ops at 48 px dominate the tail's cost (measured; see the model card)."""

    def __init__(self, cin: int, cout: int, embed_dim: int, residual: bool):
        super().__init__()
        self.bn1 = CondBatchNorm(cin, embed_dim)
        self.up = nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)
        self.residual = residual
        if residual:
            self.bn2 = CondBatchNorm(cout, embed_dim)
            self.conv = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        u = self.up(F.relu(self.bn1(x, cond)))
        if self.residual:
            u = u + self.conv(F.relu(self.bn2(u, cond)))
        return u


class DemoNet(nn.Module):
    """The trainable network (no protocol logic)."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        cfg = dict(DEFAULT_CONFIG if config is None else config)
        self.config = cfg
        ch = list(cfg["channels"])
        E = int(cfg["embed_dim"])
        self.base = int(cfg["base_size"])
        self.embed = nn.Embedding(int(cfg["n_classes"]), E)
        self.linear = nn.Linear(int(cfg["z_dim"]) + E, ch[0] * self.base * self.base)
        assert len(ch) == 4, "the demo architecture has three blocks"
        self.blocks = nn.ModuleList([
            UpBlock(ch[0], ch[1], E),                          # 6 -> 12
            TransposedUpBlock(ch[1], ch[2], E, residual=True),   # 12 -> 24
            TransposedUpBlock(ch[2], ch[3], E, residual=False),  # 24 -> 48
        ])
        self.out_bn = nn.BatchNorm2d(ch[-1])
        self.out_conv = nn.Conv2d(ch[-1], 3, 3, padding=1)

    def cond(self, class_ids: Tensor) -> Tensor:
        return self.embed(class_ids)

    def stem(self, z: Tensor, cond: Tensor) -> Tensor:
        h = self.linear(torch.cat([z, cond.expand(z.shape[0], -1)], 1))
        return h.view(z.shape[0], -1, self.base, self.base)

    def run_blocks(self, h: Tensor, cond: Tensor, start: int, stop: int) -> Tensor:
        for blk in self.blocks[start:stop]:
            h = blk(h, cond)
        return h

    def to_image(self, h: Tensor) -> Tensor:
        bn = self.out_bn
        if self.training:
            h = bn(h)
        else:   # folded eval BN: one addcmul (native batch-norm backward is ~3x slower here)
            scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
            shift = bn.bias - bn.running_mean * scale
            h = torch.addcmul(shift[None, :, None, None], h, scale[None, :, None, None])
        return torch.tanh(self.out_conv(F.relu(h)))

    def forward(self, z: Tensor, class_ids: Tensor) -> Tensor:
        cond = self.cond(class_ids)
        h = self.run_blocks(self.stem(z, cond), cond, 0, len(self.blocks))
        return self.to_image(h)


def config_from_metadata(meta: dict[str, str] | None) -> dict:
    if meta and "config" in meta:
        return json.loads(meta["config"])
    return dict(DEFAULT_CONFIG)


DEMO_INFO: dict = {
    "name": "demo",
    "kind": "demo",
    "image_size": IMAGE_SIZE,
    "classes": len(DEMO_CLASSES),
    "split_points": list(SPLIT_POINTS),
    "default_split": DEFAULT_SPLIT,
}


def weights_present() -> bool:
    return WEIGHTS_PATH.is_file()


class DemoGenerator:
    """`SplitGenerator` over a trained `DemoNet`; frozen, eval mode."""

    name = "demo"
    kind = "demo"
    image_size = IMAGE_SIZE
    z_dim = Z_DIM
    class_names: tuple[str, ...] = DEMO_CLASSES
    split_points: tuple[str, ...] = SPLIT_POINTS
    default_split = DEFAULT_SPLIT
    default_truncation = 1.0

    def __init__(self, net: DemoNet, sha256: str, device: torch.device | str | None = None):
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.net = net.to(self.device).eval().requires_grad_(False)
        self.sha256 = sha256
        self.identity = "demo:" + sha256[:16]
        self.channels_last = self.device.type == "cpu"
        if self.channels_last:
            self.net.blocks.to(memory_format=torch.channels_last)
            self.net.out_conv.to(memory_format=torch.channels_last)

    # -- validation ------------------------------------------------------------------------
    def _check_class(self, class_id) -> int:
        return validate_class_index(class_id, len(self.class_names))

    def _split_index(self, split: str) -> int:
        return split_index(split, self.split_points, "model demo")

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
        class_id = self._check_class(class_id)
        t = validate_truncation(truncation)
        idx = self._split_index(split)
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.dim() == 1:
            z = z.unsqueeze(0)
        cond = self._cond(class_id)
        h = self.net.run_blocks(self._prep(self.net.stem(z, cond)), cond, 0, idx + 1)
        h = self._check_finite(h.contiguous(), "feature")
        return h, SplitContext(split=split, cond=cond.detach(), truncation=t)

    def tail(self, feature: Tensor, ctx: SplitContext) -> Tensor:
        idx = self._split_index(ctx.split)
        C, h, w = self.feature_shape(ctx.split)
        if feature.dim() != 4 or tuple(feature.shape[1:]) != (C, h, w):
            raise UserError(f"feature for split {ctx.split} must have shape [B, {C}, {h}, {w}], "
                            f"got {tuple(feature.shape)}")
        cond = ctx.cond.to(self.device)
        if cond.dim() == 1:
            cond = cond.unsqueeze(0)
        x = self.net.run_blocks(self._prep(feature.to(self.device)), cond, idx + 1, len(self.net.blocks))
        img = self.net.to_image(x).contiguous()
        return self._check_finite(img, "image")

    def forward(self, z: Tensor, class_id: int, truncation: float) -> Tensor:
        class_id = self._check_class(class_id)
        validate_truncation(truncation)
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.dim() == 1:
            z = z.unsqueeze(0)
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
        idx = self._split_index(split)
        ch = self.net.config["channels"]
        size = int(self.net.config["base_size"]) * 2 ** (idx + 1)
        return (int(ch[idx + 1]), size, size)


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
