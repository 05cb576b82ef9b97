"""The bundled demo generator and its world: the procedurally rendered scenes it was trained
on (`scenes`, drawn by `painters` from `tables` with `drawing`'s primitives), the training script (`train`), the generator (`generator`) and its ground-truth
scores (`groundtruth`). Imports only `models.base` and the core modules.
"""
