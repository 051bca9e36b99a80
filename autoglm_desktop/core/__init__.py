"""Qt-free core: everything the app does, usable without a GUI."""
