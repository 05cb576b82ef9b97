"""The regionprims explorer: `streamlit run app.py`.

Entrypoint: page config, the shared sidebar (model, class, seed, ... and the decomposition job)
and `st.navigation` over the pages in pages/ (regionprims/ui/shell.py). The pages are thin:
widgets -> spec -> backend -> display; the Streamlit glue lives in regionprims/ui, the work in
regionprims.
"""
import os

# OpenMP worker threads wait passively: on a busy CPU, spinning threads of the background
# decomposition and of a slider's render otherwise stall each other (docs/benchmarks.md,
# "Slider re-render"). Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from regionprims import allocator  # noqa: E402

# A decomposition's buffers are reused from the heap (regionprims/allocator.py). Tuned before
# torch and the pages are imported: the first runs of several tabs import them at once, and
# every thread that allocates before the arena limit is set gets a malloc arena of its own,
# whose freed top the explorer can never hand back (regionprims/ui/memory.py).
allocator.tune()

from regionprims.ui import shell  # noqa: E402

shell.main()
