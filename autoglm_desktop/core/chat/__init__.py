"""Conversation history: the SQLite store (migrations, crash recovery) and export.

May import ``core.common``, ``core.models`` and ``core.machine``.
"""
