"""Model files on this PC: GGUF headers, quant names, the library, the starter model.

The library finds models on disk, ours and other apps' (LM Studio, Ollama, GPT4All, the
Hugging Face cache). May import only ``core.common``.
"""
