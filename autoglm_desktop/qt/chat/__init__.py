"""The chat: transcript, composer, conversation list and settings, model bar, controller.

The controller ties the view to the store and the engine worker. May import ``qt.workers``
and the core.
"""
