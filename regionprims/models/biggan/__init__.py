"""BigGAN-deep (pytorch-pretrained-biggan 0.1.1) as a generator family (models.base.Generator).

generator   the released architectures, split points, latent codes and `BigGANDeep`
checkpoint  reading a config + weights folder safely and strictly (`load_folder`)
weights     where a released model's weights are, and getting them (`load_biggan`, `fetch_weights`)
hub         the pinned Hugging Face Hub sources, their cache, and the checked download
family      the registry's view: the released models' facts and the hooks for their weights

Only this package imports `pytorch_pretrained_biggan`, lazily (inside functions), so that
listing models or importing the registry stays cheap. May import `models.base`, `errors` and
`validation`; the names below are its public face (the registry and the tests use them).
"""
from regionprims.models.biggan.checkpoint import (CONFIG_NAME, SAFETENSORS_NAME, WEIGHTS_NAME, ChecksumMismatch,
                                                  load_folder, load_from_files, sha256_file)
from regionprims.models.biggan.family import BigGANDeepFamily
from regionprims.models.biggan.generator import (ARCHITECTURES, BIGGAN_NAMES, KIND, Z_SAMPLER, BigGANDeep,
                                                 architecture_info, check_finite, default_split_of, module_plan,
                                                 split_points_of, truncated_normal)
from regionprims.models.biggan.weights import (PACKAGE_URLS, cache_dir, fetch_weights, find_local_weights,
                                               how_to_get_weights, load_biggan, offline)

__all__ = ["ARCHITECTURES", "BIGGAN_NAMES", "CONFIG_NAME", "KIND", "PACKAGE_URLS", "SAFETENSORS_NAME", "WEIGHTS_NAME",
           "Z_SAMPLER", "BigGANDeep", "BigGANDeepFamily", "ChecksumMismatch", "architecture_info", "cache_dir",
           "check_finite", "default_split_of", "fetch_weights", "find_local_weights", "how_to_get_weights", "load_biggan", "load_folder", "load_from_files", "module_plan",
           "offline", "sha256_file", "split_points_of", "truncated_normal"]
