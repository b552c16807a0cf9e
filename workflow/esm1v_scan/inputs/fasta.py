"""FASTA parsing and validation (Biopython), and file-safe sequence names.

Every problem is an :class:`~esm1v_scan.errors.InputError` whose message names the file, the record
and the problem in one line, so the workflow can stop before any job runs. Text is UTF-8; lines
that are not are read as Windows-1252 with a warning naming the file and lines (:func:`decode_text`).
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import io
import logging
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from Bio import SeqIO

from esm1v_scan.errors import InputError

log = logging.getLogger(__name__)

#: The 20 standard amino acids in the order of every score table (alphabetical one-letter codes).
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: Residue letters the ESM alphabet has a token for: the 20 plus X (unknown), B, Z, U, O.
ESM_RESIDUES = frozenset(AMINO_ACIDS + "XBZUO")
#: Letters that only ever occur in nucleotide sequences (plus N for "any").
_NUCLEOTIDES = frozenset("ACGTUN")
#: Names we never hand out, because they would clash with files the workflow writes in results/.
RESERVED_NAMES = frozenset({"sequences.tsv", "mask_plan.tsv", "provenance", "shards", "logs"})
#: Model context: 1024 tokens = BOS + 1022 residues + EOS.
MAX_RESIDUES = 1022

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

#: gzip's magic bytes (bgzip, as BAM and .fasta.gz from samtools use, is multi-member gzip)
GZIP_MAGIC = b"\x1f\x8b"
#: Magic bytes of binary files people hand over instead of a FASTA, and what to call them.
BINARY_MAGIC = (
    (b"PK\x03\x04", "a zip archive (unzip it first)"),
    (b"PK\x05\x06", "an empty zip archive"),
    (b"BZh", "a bzip2 file (bunzip2 it, or recompress with gzip)"),
    (b"\xfd7zXZ\x00", "an xz file (unxz it, or recompress with gzip)"),
    (b"\x28\xb5\x2f\xfd", "a zstd file (unzstd it, or recompress with gzip)"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive (extract it first)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"BAM\x01", "a BAM alignment file"),
    (b"CRAM", "a CRAM alignment file"),
    (b"\xd0\xcf\x11\xe0", "a legacy Microsoft Office document"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"PAR1", "a Parquet file"),
)


@dataclass(frozen=True)
class Protein:
    """One validated FASTA record."""

    id: str
    name: str
    sequence: str
    #: the header line after the id ("TEM-1 beta-lactamase"); empty when there is none. Not part
    #: of any content tag: editing a description reruns nothing but the summary.
    description: str = ""

    @property
    def length(self) -> int:
        return len(self.sequence)

    @property
    def sha256(self) -> str:
        return sequence_sha256(self.sequence)


def check_known_id(seq_id: str, ids: dict, given: str, where: str, fasta_path=None) -> None:
    """Config entries keyed by FASTA id (variants, offsets, structures): an id that is not in the
    FASTA is one InputError naming it and the first ids. ``ids``: a dict with the FASTA's ids as
    keys, in file order (fast lookup at proteome scale)."""
    if seq_id in ids:
        return
    shown = ", ".join(list(ids)[:5]) + (", ..." if len(ids) > 5 else "")
    what = f"an id in {fasta_path}" if fasta_path else "a FASTA id"
    raise InputError(f"{given} given for '{seq_id}', which is not {what} (ids: {shown})", where)


def sequence_sha256(sequence: str) -> str:
    return hashlib.sha256(sequence.encode("ascii")).hexdigest()


def safe_name(record_id: str) -> str:
    """The file-safe form of one id: runs of characters outside ``[A-Za-z0-9._-]`` become ``_``.

    ``sp|P62593|BLAT_ECOLX`` becomes ``sp_P62593_BLAT_ECOLX``. Leading dots and underscores are
    dropped (no hidden files) and the result is cut at 80 characters.
    """
    name = _UNSAFE.sub("_", record_id).lstrip("._")[:80].rstrip("_")
    return name or "seq"


def assign_names(ids: list[str]) -> dict[str, str]:
    """File-safe, collision-free names for a list of distinct ids.

    Each id gets :func:`safe_name`; when two ids of the file would get the same name (``a|b`` and
    ``a_b``), or a name is reserved, *every* such id gets ``_`` plus the first 8 hex digits of the
    sha256 of its original id appended. The result depends only on the set of ids, not their order.
    """
    base = {i: safe_name(i) for i in ids}
    counts: dict[str, int] = {}
    for name in base.values():
        counts[name.lower()] = counts.get(name.lower(), 0) + 1  # case-insensitive file systems
    names = {}
    for i, name in base.items():
        if counts[name.lower()] > 1 or name in RESERVED_NAMES:
            name = f"{name}_{hashlib.sha256(i.encode()).hexdigest()[:8]}"
        names[i] = name
    return names


def clean_residues(raw: str) -> str:
    """Upper-case, strip all white space and one trailing stop codon ``*``."""
    seq = "".join(raw.split()).upper()
    if seq.endswith("*"):
        seq = seq[:-1]
    return seq


def validate_residues(seq: str, file: str, record: str, max_length: int | None = None) -> None:
    if not seq:
        raise InputError("the record has no residues", file, record)
    if len(seq) >= 10 and set(seq) <= _NUCLEOTIDES:
        raise InputError(
            "this looks like DNA/RNA (only A, C, G, T/U, N); esm1v-scan needs a protein sequence: "
            "translate it first",
            file,
            record,
        )
    for pos, char in enumerate(seq, start=1):
        if char not in ESM_RESIDUES:
            what = "a gap" if char in "-." else ("a stop codon" if char == "*" else "a character")
            raise InputError(
                f"{what} '{char}' at position {pos} is not in the ESM alphabet "
                f"(allowed: {AMINO_ACIDS} and X, B, Z, U, O)",
                file,
                record,
            )
    if max_length is not None and len(seq) > max_length:
        raise InputError(
            f"the sequence has {len(seq)} residues, more than the {max_length} allowed here",
            file,
            record,
        )


def sniff_binary(head: bytes) -> str | None:
    """What a file starting with ``head`` looks like when it is binary (not text, not gzip)."""
    for magic, what in BINARY_MAGIC:
        if head.startswith(magic):
            return what
    if b"\x00" in head:
        return "a binary file (it holds NUL bytes)"
    return None


def decode_text(data: bytes, file: str, warn: Callable[[str], None] | None = None) -> str:
    """``data`` as text: UTF-8, a byte-order mark dropped. Lines that are not UTF-8 are read as
    Windows-1252, the usual encoding of text saved on Windows (``é``, ``°``, ``µ`` in a header),
    and ``warn`` (default: a logged warning) gets one message naming the file and those lines, so
    an id is never changed without a word. A byte that is neither (0x81, 0x8d, 0x8f, 0x90, 0x9d)
    is an InputError naming the line."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    lines, read_as_1252 = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):  # b"\n" is never inside a character
        try:
            lines.append(raw.decode("utf-8"))
            continue
        except UnicodeDecodeError:
            pass
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as err:
            raise InputError(f"line {number}: the byte 0x{raw[err.start]:02x} is neither UTF-8 nor "
                             "Windows-1252 text; save the file as UTF-8", file) from None
        lines.append(text)
        read_as_1252.append((number, text))
    shown = ", ".join(f"line {n}: {' '.join(t.split())[:60]!r}" for n, t in read_as_1252[:3])
    more = f" and {len(read_as_1252) - 3} more" if len(read_as_1252) > 3 else ""
    (warn or log.warning)(
        f"{file}: {len(read_as_1252)} line(s) are not UTF-8 and were read as Windows-1252 "
        f"({shown}{more}); check those ids and descriptions, or save the file as UTF-8")
    return "\n".join(lines)


def read_input_bytes(path: str | Path, binary: str = "", damaged: str = "") -> bytes:
    """The bytes of an input file, gunzipped when it is gzip/bgzip (told by its magic bytes, not
    its name). A damaged gzip file or any other binary file is an InputError naming the file and
    saying what it looks like; ``binary`` and ``damaged`` head those two messages."""
    path, file = Path(path), str(path)
    if not path.exists():
        raise InputError("file not found", file)
    with path.open("rb") as fh:
        head = fh.read(512)
    if head.startswith(GZIP_MAGIC):
        try:
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        except (OSError, EOFError, zlib.error) as err:
            reason = " ".join(str(err).split()) or type(err).__name__
            raise InputError(f"{damaged}a damaged or truncated gzip file ({reason})", file) from None
        where = "inside the gzip file, "
    else:
        data, where = path.read_bytes(), ""
    what = sniff_binary(data[:512])
    if what:
        raise InputError(f"{binary}{where}this looks like {what}", file)
    return data


def read_text(path: str | Path, warn: Callable[[str], None] | None = None) -> str:
    """The text of a FASTA file, plain or gzip/bgzip-compressed (:func:`read_input_bytes`),
    decoded by :func:`decode_text` (UTF-8; Windows-1252 lines with a warning to ``warn``)."""
    return decode_text(read_input_bytes(path, binary="not a FASTA file: "), str(path), warn)


def read_fasta(path: str | Path, max_length: int | None = None,
               warn: Callable[[str], None] | None = None) -> list[Protein]:
    """Parse and validate a protein FASTA file (plain, gzip or bgzip: :func:`read_text`); returns
    the records in file order. ``warn`` gets the warning about lines that are not UTF-8 (default:
    a logged warning).

    Any length is accepted by default: proteins longer than the model's context (``MAX_RESIDUES``)
    are scored in windows (:func:`esm1v_scan.scoring.planning.window_bounds`, ``wt_windows``).
    ``max_length`` sets an upper bound for callers that need one.
    """
    file = str(path)
    text = read_text(path, warn)
    if not text.strip():
        raise InputError("the file is empty", file)
    first = text.lstrip()[0]
    if first != ">":
        raise InputError(
            f"not a FASTA file: it must start with a '>' header line, found {first!r}", file
        )
    proteins = _parse_records(text, file, max_length)
    names = assign_names([p.id for p in proteins])
    return [Protein(p.id, names[p.id], p.sequence, p.description) for p in proteins]


def _parse_records(text: str, file: str, max_length: int | None) -> list[Protein]:
    proteins: list[Protein] = []
    seen: set[str] = set()
    for rec in SeqIO.parse(io.StringIO(text), "fasta"):
        if not rec.id:
            raise InputError(f"a header line with no id (record {len(proteins) + 1})", file)
        if rec.id in seen:
            raise InputError("duplicate id (ids must be unique)", file, rec.id)
        seen.add(rec.id)
        seq = clean_residues(str(rec.seq))
        validate_residues(seq, file, rec.id, max_length)
        proteins.append(Protein(rec.id, "", seq, _description(rec)))
    if not proteins:
        raise InputError("no FASTA records found", file)
    return proteins


def _description(rec) -> str:
    """Biopython's description is the whole header line: the text after the id."""
    text = rec.description
    if text.startswith(rec.id):
        text = text[len(rec.id):]
    return " ".join(text.split())


def sequences_table(proteins: list[Protein]) -> pd.DataFrame:
    """The ``results/sequences.tsv`` table: id, name, length, sha256, description (plus the
    residues)."""
    return pd.DataFrame(
        {
            "id": [p.id for p in proteins],
            "name": [p.name for p in proteins],
            "length": [p.length for p in proteins],
            "sha256": [p.sha256 for p in proteins],
            "description": [p.description for p in proteins],
            "sequence": [p.sequence for p in proteins],
        }
    )


def read_sequences_table(path: str | Path) -> list[Protein]:
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    descriptions = df["description"] if "description" in df.columns else [""] * len(df)
    return [Protein(i, n, s, d) for i, n, s, d in zip(df["id"], df["name"], df["sequence"],
                                                      descriptions)]
