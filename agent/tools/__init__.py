"""The agent's tools, one module each (docs/ARCHITECTURE.md, Add a tool).

A module here declares ``TOOL``, a `Tool` (``spec.py``: name, argument model, run
function, step counts); ``registry.py`` collects them; ``agent.toolbox.ToolBox`` runs
them in a workspace. Nothing is imported here, so reading the declarations (as
labeling/steps.py does) does not load the sandbox.
"""
