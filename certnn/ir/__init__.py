"""The graph IR: structure, serialisation, views, tracing, passes, interpreters."""

from .graph import Graph, Node  # noqa: F401
from .interpret import backward, evaluate  # noqa: F401
from .passes import dead_code, fold_constants, fuse_activations, optimize  # noqa: F401
from .printer import to_dot, to_text  # noqa: F401
from .serialize import graph_hash, load, save  # noqa: F401
from .trace import trace  # noqa: F401
