"""strangler: the operator's side of the kit — CLI, process supervisor, planning and migration tools.

Generic by design: nothing here knows the demo domain; the demo plugs in through config/ files.
"""
__version__ = "0.1.0"
