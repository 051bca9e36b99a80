"""The Settings pane: live meters, the tuner's values with reasons, manual overrides.

May import ``qt.workers`` and the core.
"""
