"""Parametric memory: a cube's promoted memories distilled into a LoRA adapter (peft).

`config` holds the documented hyper-parameters, `trainer` fits and saves an adapter,
`loader` attaches adapters to the running model by artifact id and switches between them.
"""

from model_runtime.lora.config import LoraSettings
from model_runtime.lora.loader import AdapterSet
from model_runtime.lora.trainer import TrainingReport, mean_loss, train_adapter

__all__ = ["AdapterSet", "LoraSettings", "TrainingReport", "mean_loss", "train_adapter"]
