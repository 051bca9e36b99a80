"""The *Local server* page: the switch that serves the loaded model, its settings and its log.

May import ``qt.workers`` and ``qt.common`` (and the core).
"""
