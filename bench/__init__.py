"""dlhp-bench: an open benchmark of deep-learning hyper-parameters and HPO libraries.

Pipeline, one module (or subpackage) per stage, each importing only from earlier ones:
core -> data -> models -> engine -> store -> studies -> hpo -> run (units of work) ->
report -> site -> app -> cli (docs/design.md; checked by tests/test_import_graph.py).
"""

__version__ = "0.1.0"

#: Version of the result-set layout; bumped on any incompatible change of the tables.
SCHEMA_VERSION = 1
