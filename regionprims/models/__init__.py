"""Generators behind one contract (`base.Generator`: named split points, head, tail, identity,
the optional members with their defaults, the shared checks, a family's facts and hooks), the
registry that knows which families exist and loads each model once (`registry`), the class
tables (`classes`), and each family: `biggan/`, `omniart` and the bundled `demo/` with its world;
plug-ins (`plugins`) and `wrap_module` (`wrap`), which turns any torch.nn.Module generator into a
Generator.

May import `method` and the core modules (`errors`, `validation`, `progress`); never the
orchestration, the store, a front end, `pictures` or Streamlit (tests/test_layers.py).
"""
from regionprims.models.base import Generator
from regionprims.models.wrap import wrap_module

__all__ = ["Generator", "wrap_module"]
