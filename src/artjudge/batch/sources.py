"""Where the rows come from: a manifest (CSV / JSONL / Parquet) or folders and globs, streamed.

A batch may cover millions of images, so nothing here holds the input list: manifests are
read in chunks through pyarrow / pandas readers opened with fsspec (local, ``s3://``,
``gs://``, ``memory://``), and folders are walked lazily by :func:`artjudge.io.iter_inputs`.
Each row carries its position in the stream; positions are what make a run resumable
(partition ``k`` is always rows ``k*P .. k*P+P-1``) and what the exactly-once check counts.
A row may carry the prompt or reference image its consistency is checked against: a
manifest's ``prompt`` / ``reference`` columns, or a folder image's ``IMAGE.txt`` sidecar.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from artjudge.errors import InputError

#: Manifest file extensions and the reader each one gets.
MANIFEST_FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

#: Rows read from a manifest per chunk: bounds the driver's memory whatever the file size.
CHUNK_ROWS = 8192

#: Bytes read at a time from a Parquet manifest's column chunks.
PARQUET_BUFFER = 1 << 16


#: Optional manifest columns read besides ``path``: copied to the output, or checked for consistency.
OPTIONAL_COLUMNS = ("image_id", "prompt", "reference")


@dataclass(frozen=True)
class InputRow:
    """One input: its stream position, the path as given, where to read it, or why it cannot be.

    ``prompt`` / ``reference`` (the reference image's resolved location) are what the row's
    consistency is checked against; None for neither, and the row then gets no consistency.
    """

    row: int
    input: str
    location: str | None
    image_id: str | None = None
    error: str | None = None
    prompt: str | None = None
    reference: str | None = None

    def to_tuple(self) -> tuple[int, str, str | None, str | None, str | None, str | None, str | None]:
        """A compact, picklable form for shipping partitions to Dask workers."""
        return (self.row, self.input, self.location, self.image_id, self.error, self.prompt, self.reference)

    @classmethod
    def from_tuple(cls, t: Sequence[Any]) -> InputRow:
        return cls(int(t[0]), t[1], t[2], t[3], t[4], *(t[5:7] if len(t) >= 7 else (None, None)))


def manifest_format(path: str) -> str | None:
    """The manifest reader for ``path`` by extension (``.csv.gz`` counts as ``.csv``), else None."""
    name = path.lower()
    for comp in (".gz", ".bz2", ".zst", ".xz"):
        if name.endswith(comp):
            name = name[: -len(comp)]
    return MANIFEST_FORMATS.get(posixpath.splitext(name)[1])


def is_remote(path: str) -> bool:
    """True for fsspec URLs other than the local filesystem."""
    from fsspec.core import split_protocol

    protocol, _ = split_protocol(path)
    return protocol not in (None, "file", "local")


def local_file_path(location: str) -> str:
    """``file:///a/b.png`` (or ``file://localhost/...``) as the plain path ``/a/b.png``; others unchanged.

    Why: a ``file://`` reference is local, so it must not be fetched like a remote one nor
    joined onto the manifest's folder as a relative name; before, it made every row of its
    partition fail and the whole partition fall back to one row at a time.
    """
    if location[:7].lower() != "file://":
        return location
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(location)
    if parts.netloc not in ("", "localhost"):
        return location  # a file on another host: left as given, it fails as that row's error
    return unquote(parts.path)


def _join(root: str, rel: str) -> str:
    rel = local_file_path(rel)
    if is_remote(rel) or os.path.isabs(rel):
        return rel
    if is_remote(root):
        return root.rstrip("/") + "/" + rel
    return os.path.join(root, rel)


def _manifest_root(manifest: str) -> str:
    if is_remote(manifest):
        return manifest.rsplit("/", 1)[0]
    return os.path.dirname(os.path.abspath(manifest))


def iter_rows(
    inputs: Sequence[str], *, root: str | None = None, recursive: bool = True
) -> Iterator[InputRow]:
    """Stream every input row, numbered from 0, in a stable order.

    One argument with a manifest extension is read as a manifest (a ``path`` column, and
    ``image_id``, ``prompt``, ``reference`` when present; relative image and reference paths
    resolve against ``root``, default the manifest's folder). Anything else is files,
    folders and globs, expanded lazily, each local image with the prompt of its ``IMAGE.txt``
    sidecar when there is one; a folder or glob with no images becomes one failure row
    naming it, and so does an unusable sidecar.
    """
    if len(inputs) == 1 and manifest_format(inputs[0]) is not None:
        yield from _iter_manifest(inputs[0], root=root)
        return
    from artjudge.io import iter_inputs
    from artjudge.io.sidecars import read_prompt_sidecar

    for n, (path, err) in enumerate(iter_inputs(inputs, recursive=recursive, sort=True)):
        if err is not None:
            yield InputRow(n, path, None, None, err.reason)
            continue
        if is_remote(path):
            yield InputRow(n, path, path)
            continue
        location = os.path.abspath(path)
        try:
            prompt = read_prompt_sidecar(location)
        except InputError as bad:
            yield InputRow(n, path, location, None, str(bad))
            continue
        yield InputRow(n, path, location, prompt=prompt)


def _text(value: Any) -> str | None:
    """A manifest cell as text: None for null, NaN and blank cells."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return None if not text or text.lower() == "nan" else text


def _iter_manifest(manifest: str, *, root: str | None) -> Iterator[InputRow]:
    base = root if root is not None else _manifest_root(manifest)
    n = 0
    for chunk in _manifest_chunks(manifest):
        paths = chunk["path"]
        ids = chunk.get("image_id")
        prompts = chunk.get("prompt")
        refs = chunk.get("reference")
        del chunk  # one chunk alive at a time: drop it before the reader builds the next
        for i, raw in enumerate(paths):
            image_id = None if ids is None or ids[i] is None else str(ids[i])
            prompt = None if prompts is None else _text(prompts[i])
            ref = None if refs is None else _text(refs[i])
            reference = None if ref is None else _join(base, ref)
            text = "" if raw is None else str(raw).strip()
            if not text or text.lower() == "nan":
                yield InputRow(
                    n, "", None, image_id, f"manifest row {n}: the path is empty", prompt, reference
                )
            else:
                yield InputRow(n, text, _join(base, text), image_id, None, prompt, reference)
            n += 1
        del paths, ids, prompts, refs


def _manifest_chunks(manifest: str) -> Iterator[dict[str, list[Any]]]:
    """Column chunks (``path`` and, when present, the :data:`OPTIONAL_COLUMNS`) as plain lists."""
    import fsspec

    fmt = manifest_format(manifest)
    try:
        opened = fsspec.open(manifest, "rb", compression="infer")
        fh = opened.open()
    except (FileNotFoundError, OSError) as err:
        raise InputError(manifest, f"cannot open manifest ({err})") from None
    with fh:
        if fmt == "parquet":
            yield from _parquet_chunks(manifest, fh)
        elif fmt in ("csv", "tsv"):
            yield from _csv_chunks(manifest, fh, "\t" if fmt == "tsv" else ",")
        else:
            yield from _jsonl_chunks(manifest, fh)


def _check_columns(manifest: str, names: Sequence[str]) -> list[str]:
    if "path" not in names:
        raise InputError(
            manifest, f"manifest has no 'path' column (columns: {', '.join(map(str, names)) or 'none'})"
        )
    return ["path", *(c for c in OPTIONAL_COLUMNS if c in names)]


def _parquet_chunks(manifest: str, fh: Any) -> Iterator[dict[str, list[Any]]]:
    import pyarrow.parquet as pq

    try:
        # Buffered, not pre-buffered: column chunks are read in small pieces rather than as one
        # bytes object the size of a whole row group (which grows with the manifest).
        pf = pq.ParquetFile(fh, buffer_size=PARQUET_BUFFER, pre_buffer=False)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise InputError(manifest, f"not a readable Parquet file ({err})") from None
    cols = _check_columns(manifest, pf.schema_arrow.names)
    for batch in pf.iter_batches(batch_size=CHUNK_ROWS, columns=cols):
        yield {c: batch.column(c).cast("string").to_pylist() for c in cols}


def _csv_chunks(manifest: str, fh: Any, delimiter: str) -> Iterator[dict[str, list[Any]]]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    try:
        reader = pcsv.open_csv(
            fh,
            read_options=pcsv.ReadOptions(block_size=1 << 20),
            parse_options=pcsv.ParseOptions(delimiter=delimiter),
            convert_options=pcsv.ConvertOptions(
                column_types={c: pa.string() for c in ("path", *OPTIONAL_COLUMNS)},
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as err:
        raise InputError(manifest, f"not a readable CSV manifest ({err})") from None
    cols = _check_columns(manifest, reader.schema.names)
    try:
        for batch in reader:
            yield {c: batch.column(c).to_pylist() for c in cols}
    except pa.ArrowInvalid as err:
        raise InputError(manifest, f"bad CSV row ({err})") from None


def _jsonl_chunks(manifest: str, fh: Any) -> Iterator[dict[str, list[Any]]]:
    import io

    import pandas as pd

    text = io.TextIOWrapper(fh, encoding="utf-8")
    try:
        reader = pd.read_json(text, lines=True, chunksize=CHUNK_ROWS, dtype=False)
        for frame in reader:
            cols = _check_columns(manifest, list(frame.columns))
            out: dict[str, list[Any]] = {}
            for c in cols:
                col = frame[c].astype(object)
                out[c] = [None if v is None or (isinstance(v, float) and v != v) else v for v in col.tolist()]
            del frame, col
            yield out
            del out
    except ValueError as err:
        raise InputError(manifest, f"not a readable JSON-lines manifest ({err})") from None


#: Part-file metadata key holding :func:`partition_fingerprint` of the rows the part was scored from.
FINGERPRINT_KEY = "artjudge.batch.inputs"


def _stat_key(location: str | None) -> str:
    """``size:mtime_ns`` of a local file ("-" when missing or remote): changes when the file is replaced."""
    if location is None or is_remote(location):
        return "-"
    local = location[7:] if location.startswith("file://") else location
    try:
        st = os.stat(local)
    except OSError:
        return "-"
    return f"{st.st_size}:{st.st_mtime_ns}"


def partition_fingerprint(rows: Sequence[InputRow]) -> str:
    """A digest of which inputs a partition holds and of their content (size and mtime per file).

    Why: a partition is "rows k*P..k*P+P-1" of the input stream, so a file added, removed or
    replaced between a killed run and its rerun shifts or changes rows under a finished part.
    The part stores this digest; a resume recomputes it and rescoring any part that differs
    keeps every input exactly once. Remote files are identified by path only. A row's prompt
    and reference (with the reference file's size and mtime) count too, so a changed prompt
    rescores its part; rows with neither hash as they did before prompts existed, so parts
    written by an older version still resume.
    """
    import hashlib

    h = hashlib.sha256()
    for r in rows:
        line = f"{r.row}\t{r.input}\t{r.location}\t{r.image_id}\t{r.error}\t{_stat_key(r.location)}"
        if r.prompt is not None or r.reference is not None:
            line += f"\t{r.prompt!r}\t{r.reference}\t{_stat_key(r.reference)}"
        h.update((line + "\n").encode())
    return h.hexdigest()


def iter_partitions(rows: Iterator[InputRow], size: int) -> Iterator[tuple[int, list[InputRow]]]:
    """Cut the stream into fixed-size partitions ``(index, rows)``: partition k is rows k*size...; one in memory at a time."""
    buf: list[InputRow] = []
    index = 0
    for r in rows:
        buf.append(r)
        if len(buf) == size:
            yield index, buf
            buf = []
            index += 1
    if buf:
        yield index, buf
