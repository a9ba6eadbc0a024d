"""Self-contained HTML views of certnn's artifacts, tested in a real browser (issue #18).

``certnn view FILE`` / ``certnn report RUN_DIR`` (:mod:`.report`); in Jupyter,
``%load_ext certnn.widgets`` (or ``import certnn.widgets.notebook``) renders graphs,
tensors, bound results and certificates inline."""


def load_ipython_extension(ipython) -> None:
    from . import notebook
    notebook.enable()
