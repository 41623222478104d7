"""regbench: ablation benchmarks of regularization techniques and the generalization gap."""

__version__ = "0.1.0"
