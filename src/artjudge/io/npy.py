"""Reading ``.npy`` files that came with a model folder, without trusting their header.

An ``.npy`` header declares the array's dtype and shape, and ``np.load`` allocates what it
declares before reading: a damaged or hostile ``exemplars.npy`` declaring 373 GiB ended a
run with ``MemoryError`` and a traceback. Here the declared size is checked against the
file's real size (a well-formed file holds exactly header + data bytes) and a limit before
any allocation, pickled object arrays are refused, and every problem is one line.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from artjudge.errors import InputError

__all__ = ["MAX_NPY_BYTES", "load_npy"]

#: Largest array read from a model folder (exemplar features of 100k works at 1,024 floats is 400 MB).
MAX_NPY_BYTES = 2 << 30


def load_npy(path: str | os.PathLike[str], *, max_bytes: int = MAX_NPY_BYTES) -> np.ndarray:
    """The array in ``path``, after checking its header against the file; :class:`InputError` otherwise."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise InputError(str(p), f".npy format version {version} is not read here")
            offset = fh.tell()
            size = os.fstat(fh.fileno()).st_size
            if dtype.hasobject:
                raise InputError(str(p), "holds Python objects (pickled), which are never loaded")
            declared = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
            if declared > max_bytes:
                gib = declared / 2**30
                raise InputError(
                    str(p), f"header declares {gib:.1f} GiB, over the limit of {max_bytes / 2**30:.1f} GiB"
                )
            if size - offset != declared:
                raise InputError(
                    str(p),
                    f"header declares {declared} data bytes but the file holds {size - offset}: damaged",
                )
            fh.seek(0)
            arr = np.lib.format.read_array(fh, allow_pickle=False)
    except InputError:
        raise
    except (OSError, ValueError, EOFError) as err:
        raise InputError(str(p), f"not a readable .npy file ({err})") from None
    del fortran
    return arr
