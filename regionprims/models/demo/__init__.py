"""The bundled demo generator and its world: the procedurally rendered scenes it was trained
on (`scenes`, drawn by `painters` from `tables` with `drawing`'s primitives), the network
(`network`), the generator behind the protocol (`generator`), the training script (`train`),
and its ground-truth scores (`groundtruth`, against `planted` interactions too). Imports only
`models.base` and the core modules.
"""
