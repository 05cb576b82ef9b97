"""Slide-ready output of a decomposition, as bytes, each carrying its provenance.

caption  the title line, the provenance caption and a safe file name (words only)
panels   the overview panel (PNG/SVG/PDF), the decomposition file, the inputs all share
slide    the overview as a 16:9 PowerPoint slide
gif      the build-up as a looping GIF

A front end's helper: may import `method`, `models`, `store`, `pictures` and the core modules;
never Streamlit. The names below are its public face (the CLI and the explorer use them).
"""
from regionprims.export.caption import provenance_caption, suggested_filename, title_line
from regionprims.export.gif import buildup_gif
from regionprims.export.panels import (MAX_TOP_K, PANEL_FORMATS, check_generator, decomposition_bytes,
                                       overview_figure, panel_bytes, weight_vector)
from regionprims.export.slide import panel_pptx

__all__ = ["MAX_TOP_K", "PANEL_FORMATS", "buildup_gif", "check_generator", "decomposition_bytes",
           "overview_figure", "panel_bytes", "panel_pptx", "provenance_caption", "suggested_filename", "title_line",
           "weight_vector"]
