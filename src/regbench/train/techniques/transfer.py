from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from regbench.train.techniques.base import MAX_EPOCHS, Context, Technique, at_most, require

# keras.applications networks offered as ImageNet sources: module of their preprocess_input, and
# the pattern that names their blocks (the unit `trainable_blocks` counts).
IMAGENET = {
    "MobileNetV2": ("mobilenet_v2", r"block_\d+_"),
    "MobileNetV3Small": ("mobilenet_v3", r"expanded_conv_\d+_"),
    "ResNet50": ("resnet50", r"conv\d_block\d+_"),
    "EfficientNetB0": ("efficientnet", r"block\d[a-z]_"),
    "DenseNet121": ("densenet", r"conv\d_block\d+_"),
    "VGG16": ("vgg16", r"block\d_"),
}
# The start of each network's no-top weights file in the Keras cache (keras.applications' names).
WEIGHT_FILES = {"MobileNetV2": "mobilenet_v2_", "MobileNetV3Small": "weights_mobilenet_v3_small", "ResNet50": "resnet50_",
                "EfficientNetB0": "efficientnetb0_", "DenseNet121": "densenet121_", "VGG16": "vgg16_"}  # fmt: skip


@dataclass(frozen=True)
class Transfer(Technique):
    """Start from a feature extractor trained on another task, frozen but for its last block (Yosinski et al., 2014)."""

    name: ClassVar[str] = "transfer"
    short: ClassVar[str] = "tl"
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    # "pretrain:<dataset>": regbench trains the cell's own architecture once on that dataset (its
    # images resized to the target's shape) and caches it; "imagenet:<network>": a keras.applications
    # network with ImageNet weights replaces the architecture's body.
    source: str = "pretrain:font_digits"
    trainable_blocks: int = 1  # blocks left trainable at the top of the backbone; the head always is
    fine_tune_epochs: int = 0  # then: this many epochs with every layer trainable
    fine_tune_factor: float = 0.1  # learning rate of the fine-tuning phase, relative to the budget's
    pretrain_epochs: int = 10  # pretrain: epochs on the whole source training set
    image_size: int = 96  # imagenet: inputs resized to image_size x image_size (96: smallest with weights)

    @property
    def kind(self) -> str:
        return self.source.partition(":")[0]

    @property
    def origin(self) -> str:
        """The dataset (pretrain) or network (imagenet) after the colon."""
        return self.source.partition(":")[2]

    def check(self) -> None:
        from regbench.train.datasets import DATASETS

        sources = [f"pretrain:{d}" for d in DATASETS.names() if DATASETS.get(d).kind == "image"]
        sources += [f"imagenet:{n}" for n in IMAGENET]
        require(self.source in sources, "source", ", ".join(sources))
        require(0 <= self.trainable_blocks <= 1000, "trainable_blocks", "0 <= trainable_blocks <= 1000")
        require(0 <= self.fine_tune_epochs <= MAX_EPOCHS, "fine_tune_epochs", f"0 <= fine_tune_epochs <= {MAX_EPOCHS}")
        require(0.0 < self.fine_tune_factor <= 1.0, "fine_tune_factor", "0 < fine_tune_factor <= 1")
        require(self.pretrain_epochs >= 1, "pretrain_epochs", "pretrain_epochs >= 1")
        at_most(self.pretrain_epochs, MAX_EPOCHS, "pretrain_epochs", "pretrain_epochs >= 1")
        require(self.image_size >= 32, "image_size", "image_size >= 32 (the networks' minimum)")
        at_most(self.image_size, 1024, "image_size", "image_size >= 32 (the networks' minimum)")

    def skip_reason(self, dataset: Any, model: str) -> str | None:
        if self.kind == "pretrain" and self.origin == dataset.name:
            return f"the source {self.source} is the target itself; transfer needs another task"
        return super().skip_reason(dataset, model)

    def needs_datasets(self) -> tuple[str, ...]:
        return (self.origin,) if self.kind == "pretrain" else ()

    def missing_here(self) -> list[str]:
        if self.kind != "imagenet":
            return []
        import os
        from pathlib import Path

        cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
        found = cache.is_dir() and any(
            f.name.startswith(WEIGHT_FILES[self.origin]) and "top" in f.name for f in cache.iterdir()
        )
        if found:
            return []
        return [f"ImageNet weights of {self.origin} (`python scripts/fetch_datasets.py --weights {self.origin}`)"]

    def setup(self, context: Context) -> dict[str, Any]:
        from regbench.train import pretrained

        if self.kind == "imagenet":
            return {**pretrained.check_imagenet_weights(self.origin, self.image_size), "source": self.source}
        return pretrained.backbone(self, context).meta | {"source": self.source}

    def body(self) -> Any:
        if self.kind != "imagenet":
            return None
        from regbench.train import pretrained

        return pretrained.imagenet_body(self.origin, self.image_size, IMAGENET[self.origin][0])

    def prepare(self, model: Any, context: Context) -> None:
        from regbench.train import pretrained

        if self.kind == "imagenet":
            pretrained.freeze_application(model, IMAGENET[self.origin][1], self.trainable_blocks)
        else:
            pretrained.load_backbone(model, pretrained.backbone(self, context), self.trainable_blocks)

    def fine_tune(self) -> tuple[int, float] | None:
        return (self.fine_tune_epochs, self.fine_tune_factor) if self.fine_tune_epochs else None
