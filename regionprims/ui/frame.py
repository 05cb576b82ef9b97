"""The frame around every page: page config, URL restore, navigation, the shared sidebar.

`app.py` calls `main()`. Every file in pages/ calls `page(name)`, which draws the page's body
when the frame is running it, and otherwise runs the frame itself. The second case happens
because the page files live in a folder named `pages/`: Streamlit 1.67 runs such files directly
(its legacy multipage mode) on the first script run of a server process, and on every run
under AppTest, before app.py's `st.navigation` turns that mode off. Without this, the first
visitor of a shared /components link got the page without the sidebar or its state.
"""
from __future__ import annotations

import streamlit as st

from regionprims.ui import sidebar, state

_RUNNING = "_frame_running"

PAGES = (  # (file, title, icon, url path)
    ("pages/explore.py", "Explore", ":material/tune:", "explore"),
    ("pages/components.py", "Components", ":material/grid_view:", "components"),
    ("pages/faithfulness.py", "Faithfulness", ":material/monitoring:", "faithfulness"),
    ("pages/export.py", "Export", ":material/download:", "export"),
)


def _body(name: str):
    from regionprims.ui import components, explore, export, faithfulness
    return {"explore": explore.page, "components": components.page, "faithfulness": faithfulness.page,
            "export": export.page}[name]


def _url_warnings() -> None:
    errors = st.session_state.get(state.URL_ERRORS)
    if not errors:
        return
    st.warning("The link had values that could not be used as given; they were changed:\n\n"
               + "\n".join(f"- {e}" for e in errors), icon=":material/link_off:")
    if st.button("Dismiss", key="dismiss_url_errors"):
        st.session_state[state.URL_ERRORS] = []
        st.rerun()


# Images of generated pixels (containers keyed px_*) are scaled by the browser with nearest
# neighbour: a 48 px image stays crisp at whatever width its column has.
CSS = """<style>
[class*="st-key-px_"] [data-testid="stImage"] img { image-rendering: pixelated; }
</style>"""


def main() -> None:
    st.set_page_config(page_title="regionprims explorer", page_icon=":material/grid_view:", layout="wide")
    st.html(CSS)
    state.init()
    pages = [st.Page(f, title=t, icon=i, url_path=u, default=(u == "explore")) for f, t, i, u in PAGES]
    selected = st.navigation(pages, position="top")
    _url_warnings()
    sidebar.render()
    st.session_state[_RUNNING] = True
    try:
        selected.run()
    finally:
        st.session_state[_RUNNING] = False
    state.sync_url()


def page(name: str) -> None:
    """Entry of a file in pages/: the body inside the frame, or the whole frame."""
    if st.session_state.get(_RUNNING):
        _body(name)(state.current())
    else:
        main()
