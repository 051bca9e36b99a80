"""What every part of the window shares: Markdown rendering (chat replies, model cards).

May import only the core.
"""
