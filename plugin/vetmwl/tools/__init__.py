"""Command-line tools that fill a worklist database: the importer and the demo schedule.
Run them as ``python -m vetmwl.tools.importer`` and ``python -m vetmwl.tools.demo``."""
