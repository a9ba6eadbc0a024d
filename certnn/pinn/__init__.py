"""Physics-informed networks: higher-order derivatives, training, certified residual and error bounds (issue #13)."""
