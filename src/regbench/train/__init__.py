"""One training run (a cell) -> its Result: datasets, models, techniques, pretrained backbones, the
seeded Keras session and the runner. Knows nothing of grids; importing it starts no backend."""
