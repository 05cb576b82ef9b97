"""Studies over many images (`batch` and `study`; docs/batch.md): orchestration only, the math lives
in regionprims.method and the per-image work in regionprims.pipeline.

plan     what a study is: model, classes, seeds and the decompose settings (flags or a TOML file)
runner   `regionprims batch`: every (class, seed) on Ray actors, results into the cache / a folder
records  the study record (study.json and its copy in the cache); finding and opening studies
report   the cross-image report: transfer (within class, across classes, chance), consistency
         across seeds, metric distributions
"""
