"""Generators behind one protocol (`base.SplitGenerator`: named split points, head, tail,
identity), the registry that knows which exist and loads each once (`registry`), the class
tables (`classes`), and each family: `biggan/` and the bundled `demo/` with its world.

May import `method` and the core modules (`errors`, `validation`, `progress`); never the
orchestration, the store, a front end, `pictures` or Streamlit (tests/test_layers.py).
"""
