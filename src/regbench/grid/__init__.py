"""A grid file -> cells: the spec and its strict checks, budgets, cells (ids, slugs, labels) and the
expansion of designs into cells. Never imports TensorFlow."""
