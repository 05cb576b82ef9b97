"""Streamlit glue for the explorer (`streamlit run app.py`). The only part of regionprims that
imports Streamlit. Pages call into here; the work is done by the backend (pipeline, jobs, method.mixer,
pictures) and ui.urlstate (the URL state, kept free of Streamlit).

state      session-state keys, the URL <-> state sync, the current selection
urlstate   AppState and its URL encode/decode (pure: no Streamlit)
resources  per-process caches: generators, specs, prepared mixers, previews; each session's store
memory     byte-bounded LRU stores, the memory budgets (REGIONPRIMS_*_MB), handing freed heap back
sidebar    the shared sidebar: model, class, seed, ... and the Decompose job panel
explore, components, faithfulness, export   the bodies of the four pages
charts     Plotly figures
"""
