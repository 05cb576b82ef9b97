"""regionprims: split an image generator at an intermediate layer and decompose the feature
there into OR-interaction components, each of which generates one set of image regions
(the method of arXiv 2410.04421)."""

__version__ = "0.1.0"
