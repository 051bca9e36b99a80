"""Work off the GUI thread: engine worker, hub session, hardware monitor, thread probe.

Also the typed runner every page uses for one-off calls. May import only the core.
"""
