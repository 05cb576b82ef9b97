"""Persistence: the result cache (plain checksummed files, keyed by a frozen spec) and the decomposition
file format (one safetensors file, docs/design.md §5).

May import `method` and the core modules (`errors`, `validation`); never the orchestration,
a front end or Streamlit.
"""
