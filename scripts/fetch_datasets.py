"""Fetch the downloadable datasets into Keras' cache (~/.keras/datasets) on a machine with internet.

Run by hand before taking a box offline, then copy ~/.keras/datasets (or point --data-dir at the
files):

    python scripts/fetch_datasets.py                 # mnist, fashion_mnist, cifar10
    python scripts/fetch_datasets.py cifar10
"""

from __future__ import annotations

import argparse
import sys

from regbench.datasets import DATASETS, load_raw
from regbench.errors import UsageError

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
    args = parser.parse_args(argv)
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
