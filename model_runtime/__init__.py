"""The model runtime: activation memory (KV caches) and parametric memory (LoRA adapters).

Both are derived read models of the event log: `runtime.ArtifactRuntime` consumes promotion
events, builds artifacts into an `ArtifactStore` and appends ArtifactBuilt / ArtifactDropped.
Nothing here downloads anything: models are loaded from local Hugging Face directories.
"""
