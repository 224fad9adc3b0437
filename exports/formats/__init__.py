"""The training-file formats, one module each (docs/ARCHITECTURE.md, Add an export format).

A module here declares ``FORMAT``, an `ExportFormat` (``spec.py``: name, layout, keys and
rules, record model, line builder, detection); ``registry.py`` collects them, and the
format names, detection, the CLI's choices, the checks and the docs table read it.
"""
