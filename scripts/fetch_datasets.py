"""Fetch the downloadable datasets and ImageNet weights into Keras' cache on a machine with internet.

Run by hand before taking a box offline, then copy ~/.keras (datasets/ and models/), or point
--data-dir at the dataset files:

    python scripts/fetch_datasets.py                       # mnist, fashion_mnist, cifar10
    python scripts/fetch_datasets.py cifar10
    python scripts/fetch_datasets.py --weights MobileNetV2 # transfer source imagenet:MobileNetV2
"""

from __future__ import annotations

import argparse
import sys

from regbench.errors import UsageError
from regbench.train.datasets import DATASETS, load_raw
from regbench.train.pretrained import check_imagenet_weights
from regbench.train.techniques.transfer import IMAGENET

DOWNLOADABLE = ("mnist", "fashion_mnist", "cifar10")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        default=list(DOWNLOADABLE),
        choices=DOWNLOADABLE,
        metavar="NAME",
        help=f"any of {', '.join(DOWNLOADABLE)}",
    )
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        choices=sorted(IMAGENET),
        metavar="NETWORK",
        help=f"also fetch the ImageNet weights of a network (repeatable): {', '.join(sorted(IMAGENET))}",
    )
    parser.add_argument("--image-size", type=int, default=96, help="the transfer image_size (default: 96)")
    args = parser.parse_args(argv)
    for network in args.weights:
        try:
            check_imagenet_weights(network, args.image_size)  # builds it: Keras downloads the weights
        except UsageError as exc:
            print(f"fetch_datasets: {exc}", file=sys.stderr)
            return 2
        print(f"{network}: ImageNet weights for image size {args.image_size} ready")
    for name in args.names:
        try:
            raw = load_raw(name)  # finds the files, or downloads them through keras.datasets
        except UsageError as exc:
            print(f"fetch_datasets: {exc}", file=sys.stderr)
            return 2
        print(f"{name}: {len(raw.y_train)} train + {len(raw.y_test)} test examples ready ({DATASETS.get(name).source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
