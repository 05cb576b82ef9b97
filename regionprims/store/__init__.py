"""Persistence: the result cache (plain checksummed files, keyed by a frozen spec) and the decomposition
file format (one safetensors file, README, Contracts).

May import `method` and the core modules (`errors`, `validation`); never the orchestration,
a front end or Streamlit.
"""
