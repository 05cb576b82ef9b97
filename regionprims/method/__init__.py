"""The paper's method, independent of any generator family and of any front end.

Split-agnostic math: regions and players, minimal features u(S), OR components, ranking,
metrics, rendering and build-up. May import only `regionprims.models.base`, `errors`,
`progress` and `validation`; never the store, the orchestration or a front end.
"""
