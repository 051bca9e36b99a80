"""Qt-specific test setup."""
