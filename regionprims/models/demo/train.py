"""Train the demo generator by regression on rendered scenes: G(z, class) ~ render_scene(z, class).

Regression is far more reliable than adversarial training at this scale, and its loss is the
quality measure we report anyway (held-out PSNR of the generator against the renderer).

    python -m regionprims.models.demo.train --out regionprims/data/demo_generator.safetensors \
        --steps 1100 --batch 48 --seed 0
    python -m regionprims.models.demo.train --evaluate            # per-class PSNR table (markdown)
    python -m regionprims.models.demo.train --samples docs/img/demo_samples.png
    python -m regionprims.models.demo.train --tail-cost           # tail fwd+bwd seconds, 512 features

Codes are drawn like `DemoGenerator.sample_z`: truncation x N(0, 1) clamped to [-2, 2], with the
truncation uniform in [0.2, 1] so the model covers every truncation a user can pick. Held-out
codes come from a separate random stream (seed 2**31 + 7); per class 64 codes, half at
truncation 1.0 and half at 0.5. PSNR is computed in [0, 1] pixel scale from the mean squared
error over all held-out images of a class.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from regionprims.models.demo.scenes import DEMO_CLASSES, Z_DIM, render_batch

HELDOUT_SEED = 2 ** 31 + 7
TINY_CONFIG = {"z_dim": Z_DIM, "n_classes": len(DEMO_CLASSES), "embed_dim": 8,
               "channels": [16, 8, 8, 4], "base_size": 6}


def sample_codes(n: int, gen: torch.Generator, tmin: float = 0.2, tmax: float = 1.0) -> torch.Tensor:
    z = torch.randn(n, Z_DIM, generator=gen).clamp_(-2.0, 2.0)
    t = tmin + (tmax - tmin) * torch.rand(n, 1, generator=gen)
    return z * t


def heldout_set(per_class: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed held-out codes and class ids (never seen in training: a separate stream)."""
    g = torch.Generator().manual_seed(HELDOUT_SEED)
    zs, ids = [], []
    for k in range(len(DEMO_CLASSES)):
        z = torch.randn(per_class, Z_DIM, generator=g).clamp_(-2.0, 2.0)
        t = torch.where(torch.arange(per_class) % 2 == 0, 1.0, 0.5).view(-1, 1)
        zs.append(z * t)
        ids.append(torch.full((per_class,), k, dtype=torch.long))
    return torch.cat(zs), torch.cat(ids)


def psnr_per_class(gen_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   z: torch.Tensor, ids: torch.Tensor, chunk: int = 128) -> dict[str, float]:
    """PSNR (dB, [0, 1] scale) of gen_fn(z, ids) against the renderer, per class name."""
    out = {}
    with torch.no_grad():
        for k, name in enumerate(DEMO_CLASSES):
            sel = (ids == k).nonzero().view(-1)
            if len(sel) == 0:
                continue
            se, count = 0.0, 0
            for i in range(0, len(sel), chunk):
                s = sel[i:i + chunk]
                ref = render_batch(z[s], ids[s])
                img = gen_fn(z[s], ids[s])
                se += float(((img - ref) / 2).square().sum())
                count += ref.numel()
            mse = se / count
            out[name] = 10 * math.log10(1.0 / max(mse, 1e-12))
    return out


def _recalibrate_bn(net, gen: torch.Generator, batches: int, batch: int) -> None:
    """Replace the running statistics by exact averages over fresh training batches."""
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    net.train()
    with torch.no_grad():
        for _ in range(batches):
            ids = torch.randint(0, len(DEMO_CLASSES), (batch,), generator=gen)
            net(sample_codes(batch, gen), ids)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    net.eval()


def _default_progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _schedule(lr: float, steps: int) -> Callable[[int], float]:
    """Linear warm-up over the first tenth (at most 100 steps), then cosine down to 1% of lr."""
    warm = max(1, min(100, steps // 10))

    def lr_at(step: int) -> float:
        if step < warm:
            return lr * (step + 1) / warm
        p = (step - warm) / max(1, steps - warm)
        return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p)))
    return lr_at


def _fit(net: torch.nn.Module, steps: int, batch: int, gen: torch.Generator, lr_at: Callable[[int], float],
         log: Callable[[int, float], None], log_every: int) -> None:
    """The regression loop: MSE + 0.1 L1 against freshly rendered scenes; `log(step, loss_ema)`."""
    opt = torch.optim.Adam(net.parameters(), lr=lr_at(0), betas=(0.9, 0.99))
    loss_ema = None
    net.train()
    for step in range(steps):
        for gparam in opt.param_groups:
            gparam["lr"] = lr_at(step)
        ids = torch.randint(0, len(DEMO_CLASSES), (batch,), generator=gen)
        z = sample_codes(batch, gen)
        target = render_batch(z, ids)
        img = net(z, ids)
        loss = F.mse_loss(img, target) + 0.1 * F.l1_loss(img, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lv = loss.item()
        loss_ema = lv if loss_ema is None else 0.98 * loss_ema + 0.02 * lv
        if (step + 1) % log_every == 0 or step + 1 == steps:
            net.eval()
            log(step, loss_ema)
            net.train()


def _write(out: Path, state: dict[str, torch.Tensor], config: dict, summary: dict) -> None:
    """The weights (safetensors, written atomically) and the summary beside them (.json)."""
    from safetensors.torch import save_file
    meta = {"format": "regionprims-demo-generator/1", "seed": str(summary["seed"]), "steps": str(summary["steps"]),
            "batch": str(summary["batch"]), "config": json.dumps(config), "summary": json.dumps(summary)}
    tmp = out.with_name(out.name + ".tmp")
    save_file(state, str(tmp), metadata=meta)
    tmp.replace(out)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n")


def train(out: Path, steps: int, batch: int, seed: int, tiny: bool = False,
          progress: Callable[[str], None] | None = None, lr: float = 2e-3,
          log_every: int = 100) -> dict:
    """Train, write `out` (safetensors) and `out` with suffix .json (summary); return the summary."""
    from regionprims.models.demo.network import DEFAULT_CONFIG, DemoNet

    progress = progress or _default_progress
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = dict(TINY_CONFIG if tiny else DEFAULT_CONFIG)
    torch.manual_seed(seed)
    net = DemoNet(config).to(memory_format=torch.channels_last)   # ~2x faster convolutions on CPU
    gen = torch.Generator().manual_seed(seed)
    lr_at = _schedule(lr, steps)
    hz, hids = heldout_set(8 if tiny else 64)
    quick = torch.cat([(hids == k).nonzero().view(-1)[:8] for k in range(len(DEMO_CLASSES))])
    t0 = time.time()

    def log(step: int, loss_ema: float) -> None:
        ps = psnr_per_class(lambda a, b: net(a, b), hz[quick], hids[quick])
        el = time.time() - t0
        eta = el / (step + 1) * (steps - step - 1)
        progress(f"step {step + 1}/{steps}  loss {loss_ema:.5f}  held-out PSNR {sum(ps.values()) / len(ps):.2f} dB "
                 f"(min {min(ps.values()):.2f})  lr {lr_at(step):.2e}  {el:.0f}s elapsed, ETA {eta:.0f}s")

    _fit(net, steps, batch, gen, lr_at, log, log_every)
    train_seconds = time.time() - t0
    _recalibrate_bn(net, gen, batches=4 if tiny else 50, batch=256 if not tiny else 16)
    psnr = psnr_per_class(lambda a, b: net(a, b), hz, hids)
    total_seconds = time.time() - t0
    mean_psnr = sum(psnr.values()) / len(psnr)
    progress(f"done in {total_seconds:.0f}s: held-out PSNR mean {mean_psnr:.2f} dB; "
             + ", ".join(f"{k} {v:.2f}" for k, v in psnr.items()))
    state = {k: v.detach().float().contiguous() for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    summary = {
        "seed": seed, "steps": steps, "batch": batch, "lr": lr, "tiny": tiny, "config": config,
        "train_seconds": round(train_seconds, 1), "total_seconds": round(total_seconds, 1),
        "heldout_psnr_db": {k: round(v, 3) for k, v in psnr.items()},
        "heldout_psnr_mean_db": round(mean_psnr, 3),
        "parameters": sum(v.numel() for v in state.values()),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    _write(out, state, config, summary)
    return summary


# ----------------------------------------------------------------------------------------------
# Evaluation and the sample picture (for the model card)

def _load(path: str | None):
    from regionprims.models.demo.generator import load_demo
    return load_demo(path=path) if path else load_demo()


def evaluate_table(path: str | None = None, per_class: int = 64) -> str:
    g = _load(path)
    z, ids = heldout_set(per_class)

    ps = psnr_per_class(lambda a, b: g.net(a, b), z, ids)
    lines = ["| class | held-out PSNR (dB) |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.2f} |" for k, v in ps.items()]
    lines.append(f"| **mean** | **{sum(ps.values()) / len(ps):.2f}** |")
    return "\n".join(lines) + f"\n\n{per_class} held-out codes per class (half at truncation 1.0, half at 0.5); " \
        f"weights {g.identity}.\n"


def slices_table() -> str:
    """Markdown table of every class's objects, cells and latent slices (from scenes.SLICES)."""
    from regionprims.models.demo.scenes import OBJECT_DOCS, SLICES
    lines = ["| class | object | z slice | where | numbers in the slice |", "| --- | --- | --- | --- | --- |"]
    for cls, objs in SLICES.items():
        for name, (a, b) in objs.items():
            where, what = OBJECT_DOCS[cls][name]
            lines.append(f"| {cls} | {name} | z[{a}:{b}] | {where} | {what} |")
    return "\n".join(lines) + "\n"


def samples_picture(dest: Path, path: str | None = None, n: int = 6, scale: int = 3) -> Path:
    """Renderer row above generator row for every class; n held-out codes each (truncation 1)."""
    from PIL import Image, ImageDraw

    g = _load(path)
    gen = torch.Generator().manual_seed(HELDOUT_SEED + 1)
    tiles = []
    with torch.no_grad():
        for k in range(len(DEMO_CLASSES)):
            z = torch.randn(n, Z_DIM, generator=gen).clamp_(-2, 2)
            ids = torch.full((n,), k, dtype=torch.long)
            tiles.append(render_batch(z, ids))
            tiles.append(g.net(z, ids))
    S = 48 * scale
    label_w = 90
    pad = 2
    W = label_w + n * (S + pad)
    H = len(tiles) * (S + pad)
    canvas = Image.new("RGB", (W, H), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(tiles):
        k, which = divmod(r, 2)
        draw.text((4, r * (S + pad) + S // 2 - 12), f"{DEMO_CLASSES[k]}\n{'renderer' if which == 0 else 'generator'}",
                  fill=(0, 0, 0))
        for c in range(n):
            arr = ((row[c].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
            im = Image.fromarray(arr).resize((S, S), Image.NEAREST)
            canvas.paste(im, (label_w + c * (S + pad), r * (S + pad)))
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(dest)
    return dest


# ----------------------------------------------------------------------------------------------
# CLI

def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=None,
                   help="weights file to write (default: the bundled regionprims/data/demo_generator.safetensors); "
                        "a JSON summary is written next to it")
    p.add_argument("--steps", type=int, default=1100, help="optimisation steps (default 1100)")
    p.add_argument("--batch", type=int, default=48, help="batch size (default 48)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    p.add_argument("--tiny", action="store_true", help="a tiny network (for tests)")
    p.add_argument("--evaluate", action="store_true",
                   help="do not train: print the per-class held-out PSNR table of the weights (--out or bundled)")
    p.add_argument("--slices", action="store_true", help="do not train: print the latent-slice table")
    p.add_argument("--tail-cost", action="store_true",
                   help="do not train: time one forward+backward of the tail from the default split on 512 features")
    p.add_argument("--samples", default=None, metavar="PNG",
                   help="do not train: write the renderer-vs-generator sample picture to PNG")


def _run(args: argparse.Namespace) -> int:
    from regionprims.errors import UserError
    from regionprims.models.demo.generator import WEIGHTS_PATH

    try:
        if args.slices:
            print(slices_table())
            return 0
        if args.evaluate or args.samples or args.tail_cost:
            if args.tail_cost:
                from regionprims.models.demo.generator import measure_tail_cost
                print(json.dumps(measure_tail_cost(_load(args.out))))
            if args.evaluate:
                print(evaluate_table(args.out))
            if args.samples:
                print(samples_picture(Path(args.samples), args.out))
            return 0
        if args.steps < 1 or args.batch < 2:
            raise UserError("--steps must be >= 1 and --batch >= 2")
        out = Path(args.out) if args.out else WEIGHTS_PATH
        summary = train(out, args.steps, args.batch, args.seed, tiny=args.tiny, lr=args.lr)
        print(json.dumps(summary))
        return 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def register(subparsers) -> argparse.ArgumentParser:
    """Add the `train-demo` sub-command; its `func(args) -> int` runs it."""
    p = subparsers.add_parser("train-demo", help="train the bundled demo generator on rendered scenes",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(p)
    p.set_defaults(func=_run)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="regionprims train-demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_arguments(parser)
    return _run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
