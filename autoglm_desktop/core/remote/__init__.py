"""Remote engines: chat with models served by OpenAI-compatible servers on other machines.

``servers`` keeps the user's list of servers (no keys), ``keys`` their API keys in the OS
keyring, ``client`` streams replies as the local engine's events and tests connections, and
``openai_api`` wraps the official ``openai`` client (imported only once a server is used). No
module here opens a connection on import or at start-up: a server is contacted only when the
user picks one of its models, or presses Test connection. Hub offline mode does not apply here:
it is about the model hub. May import ``core.engine`` (for its events) and ``core.common``.
"""
