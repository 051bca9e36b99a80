"""The Qt-free core: everything the app does, usable from the window, the CLI and tests.

Parts, highest first; a part imports only parts below it (import-linter keeps this)::

    planning          fit this model to this machine: estimate, tuner, fit verdicts,
                      recommendations, measured threads, per-model overrides
    hub | engine | chat
                      the model hub and downloads | llama.cpp in its own process |
                      conversation history and export (independent of each other)
    models | machine  model files on this PC | what this PC has (independent of each other)
    common            vocabulary every part shares: errors, paths, settings files, types

Nothing here imports PySide6; only ``core.engine`` imports ``llama_cpp``.
"""
