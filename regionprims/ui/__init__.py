"""Streamlit glue for the explorer (`streamlit run app.py`). The only part of regionprims that
imports Streamlit. Pages call into here; the work is done by the backend (pipeline, jobs, mix,
pictures) and ui.urlstate (the URL state, kept free of Streamlit).

shell      page config, navigation and the sidebar around every page; PAGES, the one page list
state      session-state keys, the URL <-> state sync, the current selection
urlstate   AppState and its URL encode/decode (pure: no Streamlit)
resources  per-process caches: generators, specs, prepared mixers, previews; each session's store
mixer_pictures   a prepared mixer's cards and stills as PNGs, kept per decomposition
memory     byte-bounded LRU stores, the memory budgets (REGIONPRIMS_*_MB), handing freed heap back
sidebar    the shared sidebar: model, class, seed, ... and the Decompose job panel
download   the sidebar's weights panel
explore, components, faithfulness, export, study   the bodies of the pages
charts     Plotly figures (study_charts: the Study page's)
"""
