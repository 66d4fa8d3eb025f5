"""Activation memory: the key/value cache of a promoted memory block, prefilled once.

`builder` prefills and saves (`kv.safetensors`: the block's token ids and each layer's keys
and values, shaped [batch=1, kv_heads, tokens, head_dim] as in transformers' DynamicCache);
`loader` verifies an artifact against the running model and turns it back into a cache.
"""

from model_runtime.kv_cache.builder import KvCacheSettings, build_kv_cache, prefill
from model_runtime.kv_cache.loader import PrefixCache, load_kv_cache

__all__ = ["KvCacheSettings", "PrefixCache", "build_kv_cache", "load_kv_cache", "prefill"]
