"""Synthetic GGUF files whose weights are holes: any size in an instant, a few MB on disk.

The same files as :func:`synthetic_gguf.write_synthetic_gguf` writes (zero weights, norms of
ones), but the zero ranges are left unwritten, so the file system stores them as holes and
reads them as zeros. llama.cpp loads them like any model; memory use is that of a real one.
"""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import numpy as np
import synthetic_gguf as sg


def write_sparse_gguf(path: Path, model: sg.SyntheticModel) -> Path:
    """Write ``model`` to ``path`` (atomically) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    writer = gguf.GGUFWriter(partial, model.arch)
    sg._write_hyperparameters(writer, model)
    sg._write_vocabulary(writer, model)
    if model.chat_template is not None:
        writer.add_chat_template(model.chat_template)
    specs = model.tensor_specs()
    for spec in specs:
        dtype = np.float32 if spec.qtype == sg.QT.F32 else np.float16
        raw = None if spec.qtype in (sg.QT.F32, sg.QT.F16) else spec.qtype
        shape = tuple(reversed(spec.shape))
        writer.add_tensor_info(spec.name, shape, np.dtype(dtype), spec.n_bytes, raw_dtype=raw)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    assert writer.fout is not None
    out = writer.fout[0]
    align = writer.data_alignment
    position = out.tell()
    for spec in specs:
        position = (position + align - 1) // align * align
        if len(spec.shape) == 1:  # norms: ones keep activations finite
            out.seek(position)
            np.ones(spec.shape[0], dtype=np.float32).tofile(out)
        position += spec.n_bytes
    out.truncate((position + align - 1) // align * align)
    writer.close()
    os.replace(partial, path)
    return path
