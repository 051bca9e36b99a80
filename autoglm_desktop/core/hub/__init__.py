"""The model hub: client, search, remote GGUF headers, catalog, downloads, hub settings.

Searching and paging, GGUF headers read over HTTP Range, the curated catalog, resumable
verified downloads and the hub settings (endpoint, proxy, offline, token). May import
``core.common``, ``core.models`` and ``core.machine``; fit verdicts and recommendations are
``core.planning``'s.
"""
