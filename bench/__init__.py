"""dlhp-bench: an open benchmark of deep-learning hyper-parameters and HPO libraries.

Pipeline, one module (or subpackage) per stage:
data -> models -> engine -> studies -> store -> report -> site, driven by ``bench.cli``.
"""

__version__ = "0.1.0"

#: Version of the result-set layout; bumped on any incompatible change of the tables.
SCHEMA_VERSION = 1
