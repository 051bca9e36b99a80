"""The Models window: Discover, Downloads, My models and the hub settings page.

May import ``qt.workers`` and the core.
"""
