"""Generators behind one protocol (`base.SplitGenerator`: named split points, head, tail,
identity), the registry that knows which exist and loads each once (`registry`), the class
tables (`classes`), and each family: `biggan/`, `omniart` and the bundled `demo/` with its world;
plug-ins (`plugins`) and `wrap_module` (`wrap`), which turns any torch.nn.Module generator into a
SplitGenerator.

May import `method` and the core modules (`errors`, `validation`, `progress`); never the
orchestration, the store, a front end, `pictures` or Streamlit (tests/test_layers.py).
"""
from regionprims.models.wrap import wrap_module

__all__ = ["wrap_module"]
