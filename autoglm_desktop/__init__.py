"""AutoGLM Desktop: private, offline chat with GGUF models on your own PC."""

__version__ = "0.1.0"
APP_NAME = "AutoGLM Desktop"
APP_ID = "autoglm-desktop"
