"""The ``srinspect`` command line: one module per subcommand family, shared options in
``options``, the entry point and subcommand registry in ``main``."""
