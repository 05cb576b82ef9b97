"""The paper's method, independent of any generator family and of any front end.

Split-agnostic math: regions and players, minimal features u(S), OR components, ranking,
metrics (and `METRICS`, the table of what is recorded), rendering, build-up, and the explorer's
mixer. May import only `regionprims.models.base`, `errors`, `progress` and `validation`; never
the store, the orchestration, a front end, `pictures` or Streamlit (tests/test_layers.py).
"""
