"""What every part of the core shares: typed errors, paths, settings files and data types.

Imports nothing else of the app.
"""
