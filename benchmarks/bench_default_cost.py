"""Side-by-side CPU cost of the settings before issue 9 and the default on one demo image (docs/benchmarks.md,
"CPU time of the default"). usage: python benchmarks/bench_default_cost.py"""
import time, torch
from regionprims import allocator
from regionprims.models.registry import load_generator
from regionprims.pipeline import decompose, make_spec
from regionprims.method.specs import OptimSettings
allocator.tune()                    # as the CLI and the explorer run (regionprims/allocator.py)
torch.set_num_threads(2)
gen = load_generator("demo")
old = OptimSettings(optimizer="adam", tie="none", param="sigmoid", schedule="constant", mu=0.0, steps=5, lr=0.25)
for rep in range(2):
    for name, s in (("before issue 9", old), ("default", OptimSettings())):
        spec = make_spec(gen, "face", 3, settings=s)
        t = time.perf_counter(); d, _ = decompose(gen, spec); sec = time.perf_counter() - t
        print(f"{name:15} total {sec:6.2f} s  timings {{{', '.join(f'{k} {v:.2f}' for k, v in d.info['timings'].items())}}}  "
              f"objective {d.info['objective_mean']:.6f}  stability {d.metrics['stability']:.3f}", flush=True)
        if rep == 0:
            print("   ", {k: round(v, 4) for k, v in d.metrics.items() if not k.startswith("gt_") and not k.startswith("null_gt")})
