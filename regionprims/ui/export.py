"""The Export page: slide-ready panels (PNG, SVG, PDF, PowerPoint), the decomposition file and
the build-up GIF, built by regionprims.export for the current mix, as download buttons."""
from __future__ import annotations

import streamlit as st

from regionprims import export as ex
from regionprims.ui import resources, state, transplant
from regionprims.ui.state import Current

MIME = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf",
        "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "safetensors": "application/octet-stream", "gif": "image/gif"}


def page(cur: Current) -> None:
    mx = resources.page_mixer(cur, "Export")
    if mx is None:
        return
    gen, dec, key, spec = cur.gen, mx.dec, cur.key, cur.spec
    view = state.view()
    weights = view.effective(dec.components.shape[0])
    residual = view.residual
    added, note = transplant.export_extra(cur) or (None, None)      # a transplant in the mix: its line
    c1, c2 = st.columns([1, 3])
    top_k = c1.slider("components on the panel", 1, min(12, len(dec.ranking)), value=min(6, len(dec.ranking)),
                      key="export_top")
    c2.markdown("The panel shows the original, the baseline, the **current mix** from the Explore page "
                "(its weights) and the strongest components with their regions, with a provenance caption.")
    try:
        caption = ex.provenance_caption(dec, transplant=note)
    except Exception as exc:  # noqa: BLE001
        caption = f"(no caption: {exc})"
    store, entry = resources.session_store(), ("panel", key, tuple(weights.tolist()), residual, top_k, note)
    try:
        preview = store.get(entry) or store.put(entry, ex.panel_bytes(gen, dec, "png", weights=weights,
                                                                      residual_weight=residual, top_k=top_k,
                                                                      added=added, note=note))
    except Exception as exc:  # noqa: BLE001 - show one line, never a traceback
        st.error(f"cannot build the panel: {exc}")
        return

    # The buttons' callables run when clicked, on a thread of their own, and Streamlit keeps
    # them for the session: they hold the key, not the decomposition (resources.decomposition).
    def the_dec():
        found = resources.decomposition(key, spec)
        if found is None:
            raise RuntimeError("the decomposition is no longer available; reload the page")
        return found

    def panel(fmt: str):
        return lambda: ex.panel_bytes(gen, the_dec(), fmt, weights=weights, residual_weight=residual, top_k=top_k,
                                      added=added, note=note)

    cols = st.columns(3)
    buttons = [
        ("Panel (PNG)", "png", lambda: preview),
        ("Panel (SVG)", "svg", panel("svg")),
        ("Panel (PDF)", "pdf", panel("pdf")),
        ("Slide (PowerPoint)", "pptx",
         lambda: ex.panel_pptx(gen, the_dec(), weights=weights, residual_weight=residual, top_k=top_k,
                               added=added, note=note)),
        ("Decomposition file", "safetensors", lambda: ex.decomposition_bytes(the_dec())),
        ("Build-up (GIF)", "gif", lambda: ex.buildup_gif(gen, the_dec(), k_max=20)),
    ]
    for i, (label, ext, data) in enumerate(buttons):
        cols[i % 3].download_button(label, data=data, file_name=ex.suggested_filename(dec, ext), mime=MIME[ext],
                                    on_click="ignore", key=f"dl_{ext}", icon=":material/download:",
                                    width="stretch")
    st.image(preview, caption="Panel preview (PNG)", width="stretch", output_format="PNG")
    st.caption(caption.replace("\n", "  \n"))
