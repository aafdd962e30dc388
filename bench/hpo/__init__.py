"""HPO libraries under test: one search space, translated to Optuna, Hyperopt and skopt."""
