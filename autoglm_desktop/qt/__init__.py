"""The Qt user interface: the only package that imports PySide6.

Parts, highest first (import-linter keeps the order)::

    app, main_window, self_test   the application and its main window
    chat | models | settings      the chat transcript and composer | the Models window
                                  (discover, downloads, library, hub settings) | the
                                  Settings pane (independent of each other)
    workers | common              QThreads that loop over core generators and re-emit
                                  their values as signals, and the one way to run a call
                                  off the GUI thread | Markdown rendering shared by all

Pages only call the core; use cases live in ``autoglm_desktop.core``.
"""
