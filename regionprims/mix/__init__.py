"""The explorer's mix, without Streamlit or pictures: what a user has set and a decomposition
prepared to show it. The explorer's model; the math it calls lives in `regionprims.method`.

state      ViewState: a weight per component, which are muted or soloed, the residual's weight
presets    all, none, top-k, only region i, everything but region i
weights    the one grammar of a component-weight list ('ROW:W,...'; `export --weights`, the URL's w=)
mixer      Mixer: a decomposition prepared for live use (render a view, its live metrics, analyses)
transplant a donor decomposition's component added to the mix with a weight (TransplantRef, render)

May import `method`, `models.base`, `errors`, `progress` and `validation`; never the orchestration,
the store, a front end (cli, export, ui), `pictures` or Streamlit. `method` and `models` never
import it (tests/test_layers.py).
"""
