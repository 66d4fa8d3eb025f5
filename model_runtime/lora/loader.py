"""Attach LoRA adapters to the running model by artifact id, and switch between them.

peft injects its layers into the model it wraps, so the set wraps a private copy: the
shared base model stays pristine for KV-cache builds, training and adapter-free generation.
`active(None)` runs the base model, `active(id)` the copy with that adapter switched on.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Iterator

from model_runtime.models import LoadedModel


class AdapterSet:
    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self._peft = None
        self._names: set[str] = set()

    @property
    def model(self):
        return self._peft if self._peft is not None else self.loaded.model

    def load(self, artifact_id: str, directory: Path) -> None:
        from peft import PeftModel

        if artifact_id in self._names:
            return
        if self._peft is None:
            self._peft = PeftModel.from_pretrained(copy.deepcopy(self.loaded.model), str(directory),
                                                   adapter_name=artifact_id, is_trainable=False)
        else:
            self._peft.load_adapter(str(directory), adapter_name=artifact_id, is_trainable=False)
        self._peft.eval()
        self._names.add(artifact_id)

    def unload(self, artifact_id: str) -> None:
        if artifact_id in self._names and self._peft is not None:
            if len(self._names) > 1:
                other = next(name for name in sorted(self._names) if name != artifact_id)
                self._peft.set_adapter(other)
                self._peft.delete_adapter(artifact_id)
                self._names.discard(artifact_id)
            else:
                self._peft, self._names = None, set()  # drop the private copy

    def loaded_ids(self) -> set[str]:
        return set(self._names)

    @contextlib.contextmanager
    def active(self, artifact_id: str | None) -> Iterator[object]:
        """The model to call with `artifact_id`'s adapter on (or none: exact base weights)."""
        if self._peft is None or artifact_id is None:
            yield self.loaded.model
        else:
            self._peft.set_adapter(artifact_id)
            yield self._peft
