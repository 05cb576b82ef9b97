"""The shell around every page: page config, URL restore, navigation, the shared sidebar, and
`PAGES`, the one list of the explorer's pages.

A page is a body function `page(cur)` in regionprims/ui/<name>.py, one row of `PAGES`, and a
stub pages/<name>.py that calls `shell.page("<name>")` (tests/test_app.py checks that the stubs
and the rows agree). `app.py` calls `main()`; `page(name)` draws the body when the shell is
running it, and otherwise runs the shell itself. The second case happens because the stubs live
in a folder named `pages/`: Streamlit 1.67 runs such files directly (its legacy multipage mode)
on the first script run of a server process, and on every run under AppTest, before app.py's
`st.navigation` turns that mode off. Without this, the first visitor of a shared /components
link got the page without the sidebar or its state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st

from regionprims.ui import components, explore, export, faithfulness, sidebar, state, study

_RUNNING = "_shell_running"


@dataclass(frozen=True)
class Page:
    name: str                          # pages/<name>.py and the URL path /<name>
    title: str
    icon: str
    body: Callable[[state.Current], None]

    @property
    def file(self) -> str:
        return f"pages/{self.name}.py"


PAGES = (                              # in the order of the navigation; the first is the default
    Page("explore", "Explore", ":material/tune:", explore.page),
    Page("components", "Components", ":material/grid_view:", components.page),
    Page("faithfulness", "Faithfulness", ":material/monitoring:", faithfulness.page),
    Page("export", "Export", ":material/download:", export.page),
    Page("study", "Study", ":material/query_stats:", study.page),
)


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
    pages = [st.Page(p.file, title=p.title, icon=p.icon, url_path=p.name, default=(p is PAGES[0])) for p in PAGES]
    selected = st.navigation(pages, position="top")
    _url_warnings()
    sidebar.show()
    st.session_state[_RUNNING] = True
    try:
        selected.run()
    finally:
        st.session_state[_RUNNING] = False
        state.end_run()
    state.sync_url()


def page(name: str) -> None:
    """Entry of a file in pages/: the body inside the shell, or the whole shell."""
    if st.session_state.get(_RUNNING):
        next(p for p in PAGES if p.name == name).body(state.current())
    else:
        main()
