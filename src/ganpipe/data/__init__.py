"""MNIST in and out: the IDX format (idx), where it comes from (sources), and the arrays stages pass on (arrays)."""
