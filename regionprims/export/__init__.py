"""Slide-ready output: panels (PNG/SVG/PDF), the PowerPoint slide and the build-up GIF of a
decomposition, each carrying its provenance.

A front end's helper: may import `method`, `models`, `store` and the core modules; never
Streamlit.
"""
