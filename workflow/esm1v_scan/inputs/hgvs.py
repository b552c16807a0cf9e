"""Protein variants as papers, clinics and annotation tools write them: a small HGVS p. reader.

Accepted, in a variant file's mutant column (one variant per cell):

- the workflow's own forms, unchanged: ``A25G``, multi-mutants joined by ``:`` (``A25G:K40R``),
  residue numbers that are zero or negative (``F-5A``, ``S0A``: lists with a negative offset);
  lower case is tolerated there (``a25g``), as before;
- HGVS p. with three-letter (``p.Arg97Cys``) or one-letter codes (``p.R97C``), with or without
  ``p.``, a predicted consequence in parentheses (``p.(Arg97Cys)``), a reference-sequence prefix
  (``ENSP00000269305.4:p.Arg273His``, ``NP_000537.3:p.R273H``) and alleles with several changes
  (``p.[Arg97Cys;Lys40Arg]``);
- the types: substitution ``p.Arg97Cys``; synonymous ``p.Ala25=`` (VEP's URL-escaped ``p.Ala25%3D``
  too); stop-gain ``p.Trp30Ter`` / ``p.Trp30*`` / ``W30*``; deletion ``p.Lys12del``,
  ``p.Lys12_Glu14del``; insertion between two neighbours ``p.Lys12_Glu13insGlyAla``;
  deletion-insertion ``p.Cys28delinsTrpVal``; duplication ``p.Gly4dup``, ``p.Gly4_Ser6dup``;
  frameshift ``p.Arg97fs``, ``p.Arg97ProfsTer23``; start loss ``p.Met1?``, ``p.Met1Val``; stop
  loss ``p.Ter110GlnextTer17`` (``ext*?`` / ``extTer?`` when the new stop is unknown).

The grammar is strict: an unknown code (``p.Arg97Xyz``), a range that runs backwards
(``p.Lys12_Glu11del``), insertion flanks that are not neighbours (``p.Lys12_Glu14insGly``), a
``?`` anywhere but the start codon, a change of the stop that is not an extension, the deprecated
``X`` for a stop, two changes of one residue, and mixed one- and three-letter codes within one
change are refused with one line naming the text and the problem.

Why a grammar of our own and not biocommons ``hgvs``: that package parses everything HGVS can
say (c., g., n., r., intronic offsets, mapping between them), and for it installs a PostgreSQL
client (psycopg2), SeqRepo, bioutils, Parsley and IPython, and expects a transcript database (UTA)
for anything beyond parsing. We need the protein subset only, checked against our own FASTA
sequence with the list's numbering offset, with our one-line errors; that is a few regular
expressions, no dependency, and fast at proteome-sized lists.

The model
---------
:func:`parse` gives a :class:`ProteinVariant` (frozen): its :class:`Edit` s (one per change, in
the order written), the ``reference`` prefix (or None) and the text as written. Normalised
notation, :attr:`ProteinVariant.hgvs_p`: ``p.`` then three-letter codes, no parentheses, ``Ter``
for a stop (``*`` is read), ``=`` for a synonymous change (``p.Ala25Ala`` and ``A25A`` are read as
``p.Ala25=``), a multi-site allele as ``p.[first;second]`` in the order written (so ``A25G:K40R``
is ``p.[Ala25Gly;Lys40Arg]``), a frameshift as given (``p.Arg97fs`` stays short,
``p.R97Pfs*23`` becomes ``p.Arg97ProfsTer23``). The prefix is not part of ``hgvs_p``:
:attr:`ProteinVariant.hgvs` adds it back. ``parse(v.hgvs) == v`` for every variant.

Numbering: residue numbers are as written; a list's *offset* is the number of the sequence's
first residue, so a residue numbered ``n`` is at 1-based position ``n - offset + 1``. HGVS numbers
the initiator Met 1, so ``p.Met1Val`` is a start loss (its mutant sequence is still defined).

variant_type (:data:`VARIANT_TYPES`): ``missense``, ``synonymous``, ``stop_gained``,
``inframe_deletion``, ``inframe_insertion``, ``delins``, ``duplication``, ``frameshift``,
``start_lost``, ``stop_lost``, ``multi_missense``. A multi-site allele of substitutions only is
``multi_missense`` (``synonymous`` when every change is); any other multi-site allele is parsed
and gets the type of its most severe change (VEP's order: stop_gained, frameshift, stop_lost,
start_lost, then in-frame changes, then missense, synonymous) with
:attr:`~ProteinVariant.multi_site` true, so a caller that scores sites only can say "not scored:
multi-site allele with indels". Two changes of one residue, or a change after a stop-gain or a
frameshift in the same allele, are refused.

What a caller does with a variant (the reader of variant files, later):

- :func:`check` every reference residue against the sequence (one-line :class:`InputError` naming
  the file, the row, the variant and the residue); it returns the sequence positions touched;
- :func:`sites` for variants made of substitutions to the 20 amino acids (missense,
  multi_missense, synonymous, ``p.Met1Val``): the (position, wild type, mutant) to score;
- :func:`apply` for variants whose mutant sequence is known (:attr:`~ProteinVariant.sequence_known`:
  substitutions, deletions, insertions, deletion-insertions, duplications and their alleles; a
  stop-gain truncates before the stop). Frameshifts, start loss by ``?`` and extensions have no
  known mutant sequence.
- :func:`names_sequence` to tell whether the prefix names the FASTA record (the caller checks a
  prefix that names one of its FASTA ids against the variant's sequence, and otherwise ignores
  prefixes with one warning per file).

Deletions and duplications in a repeat are written at their most 3' position by HGVS (the 3'
rule); :func:`apply` gives the same mutant sequence for any position in the repeat, so both
spellings score the same. ``hgvs_p`` keeps the position as written (shifting needs the sequence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS

#: variant_type values, exact strings.
VARIANT_TYPES = (
    "missense", "synonymous", "stop_gained", "inframe_deletion", "inframe_insertion", "delins",
    "duplication", "frameshift", "start_lost", "stop_lost", "multi_missense",
)
#: Most severe first (VEP's ranking of these consequences): the type of a mixed multi-site allele.
SEVERITY = (
    "stop_gained", "frameshift", "stop_lost", "start_lost", "delins", "inframe_insertion",
    "duplication", "inframe_deletion", "multi_missense", "missense", "synonymous",
)
#: Shown with every unreadable variant.
ACCEPTED_FORMS = (
    "A25G, A25G:K40R, p.Arg97Cys or p.R97C, p.(Arg97Cys), NP_000537.3:p.Arg97Cys, "
    "p.[Arg97Cys;Lys40Arg], p.Ala25=, p.Trp30Ter or p.Trp30*, p.Lys12del, p.Lys12_Glu14del, "
    "p.Lys12_Glu13insGlyAla, p.Cys28delinsTrpVal, p.Gly4dup, p.Gly4_Ser6dup, p.Arg97fs, "
    "p.Arg97ProfsTer23, p.Met1?, p.Ter110GlnextTer17"
)

#: One-letter -> three-letter code of the residues a variant may name (the 20, Sec, Pyl, stop).
THREE = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "U": "Sec",
    "O": "Pyl", "*": "Ter",
}
ONE = {three: one for one, three in THREE.items()}
#: Names of residues a sequence may hold but a variant may not name (for messages).
_OTHER_NAMES = {"X": "Xaa", "B": "Asx", "Z": "Glx", "J": "Xle"}

# edit kinds
SUBSTITUTION, DELETION, INSERTION, DELINS, DUPLICATION = (
    "substitution", "deletion", "insertion", "delins", "duplication")
FRAMESHIFT, EXTENSION, UNKNOWN = "frameshift", "extension", "unknown"
_APPLICABLE = frozenset({SUBSTITUTION, DELETION, INSERTION, DELINS, DUPLICATION})
_EDIT_TYPE = {
    DELETION: "inframe_deletion", INSERTION: "inframe_insertion", DELINS: "delins",
    DUPLICATION: "duplication", FRAMESHIFT: "frameshift", EXTENSION: "stop_lost",
    UNKNOWN: "start_lost",
}


class _Bad(ValueError):
    """A syntax problem in one variant (turned into an InputError by :func:`parse`)."""


@dataclass(frozen=True)
class Edit:
    """One change. Residues are one-letter codes (``*`` for the stop)."""

    #: substitution, deletion, insertion, delins, duplication, frameshift, extension, unknown (Met1?)
    kind: str
    start: int  #: residue number (as written) of the first residue named
    start_ref: str  #: its reference residue
    end: int  #: residue number of the last residue named (== start for one residue)
    end_ref: str  #: its reference residue (== start_ref for one residue)
    #: substitution: the new residue (``*`` stop-gain, == start_ref synonymous); insertion and
    #: delins: the inserted residues; frameshift and extension: the first new residue, or ''
    alt: str = ""
    #: frameshift and extension: the new stop's distance as written ('23'), '?' unknown, '' none
    tail: str = ""

    @property
    def variant_type(self) -> str:
        if self.kind != SUBSTITUTION:
            return _EDIT_TYPE[self.kind]
        if self.alt == self.start_ref:
            return "synonymous"
        if self.alt == "*":
            return "stop_gained"
        if self.start == 1 and self.start_ref == "M":
            return "start_lost"
        return "missense"

    @property
    def hgvs(self) -> str:
        """This change in normalised three-letter notation, without ``p.``."""
        loc = f"{THREE[self.start_ref]}{self.start}"
        if self.end != self.start or self.kind == INSERTION:
            loc += f"_{THREE[self.end_ref]}{self.end}"
        if self.kind == SUBSTITUTION:
            return loc + ("=" if self.alt == self.start_ref else THREE[self.alt])
        if self.kind in (DELETION, DUPLICATION):
            return loc + ("del" if self.kind == DELETION else "dup")
        if self.kind in (INSERTION, DELINS):
            return loc + ("ins" if self.kind == INSERTION else "delins") + _three(self.alt)
        if self.kind == FRAMESHIFT:
            return loc + _three(self.alt) + "fs" + (f"Ter{self.tail}" if self.tail else "")
        if self.kind == EXTENSION:
            return loc + _three(self.alt) + f"extTer{self.tail}"
        return loc + "?"  # UNKNOWN

    def _span(self) -> tuple[float, float]:
        """The residues this change reads or changes, for overlap checks and apply's order:
        an insertion sits between its flanks, a duplication inserts after its end, a stop-gain
        and a frameshift end the protein."""
        if self.kind == INSERTION:
            return self.start + 0.5, self.start + 0.5
        if self.kind == DUPLICATION:
            return self.start, self.end + 0.5
        if self.kind == FRAMESHIFT or (self.kind == SUBSTITUTION and self.alt == "*"
                                       and self.start_ref != "*"):
            return self.start, float("inf")
        return self.start, self.end


@dataclass(frozen=True)
class Site:
    """One substitution to score: 1-based sequence position, residue number as written, residues."""

    position: int
    number: int
    wt: str
    mt: str


@dataclass(frozen=True)
class ProteinVariant:
    """One variant (one cell of a mutant column), parsed; see the module docstring."""

    edits: tuple[Edit, ...]
    reference: str | None = None  #: the reference-sequence prefix (``NP_000537.3``), if any
    text: str = field(default="", compare=False)  #: as written

    @property
    def hgvs_p(self) -> str:
        """Normalised HGVS, without the prefix: ``p.Arg97Cys``, ``p.[Arg97Cys;Lys40Arg]``."""
        if len(self.edits) == 1:
            return "p." + self.edits[0].hgvs
        return "p.[" + ";".join(e.hgvs for e in self.edits) + "]"

    @property
    def hgvs(self) -> str:
        """``hgvs_p`` with the reference prefix when there is one."""
        return f"{self.reference}:{self.hgvs_p}" if self.reference else self.hgvs_p

    @property
    def variant_type(self) -> str:
        types = [e.variant_type for e in self.edits]
        if len(types) == 1:
            return types[0]
        if set(types) <= {"missense", "synonymous"}:
            return "multi_missense" if "missense" in types else "synonymous"
        return min(types, key=SEVERITY.index)

    @property
    def multi_site(self) -> bool:
        return len(self.edits) > 1

    @property
    def substitutions_only(self) -> bool:
        """Every change a substitution to one of the 20 amino acids (or synonymous): :func:`sites`
        gives what to score."""
        return all(e.kind == SUBSTITUTION and e.alt in AMINO_ACIDS for e in self.edits)

    @property
    def sequence_known(self) -> bool:
        """:func:`apply` can build the mutant sequence."""
        return all(e.kind in _APPLICABLE and e.start_ref != "*" for e in self.edits)

    def __str__(self) -> str:
        return self.hgvs


# -- parsing ------------------------------------------------------------------------------------
#: a residue number: ASCII digits; negative without leading zeros and never -0 (as the tables
#: write numbers with a negative offset: F-5A, S0A)
_NUM = r"(?:-[1-9][0-9]*|[0-9]+)"
_R3 = r"(?:[A-Z][a-z]{2}|\*)"
_R1 = r"[A-Z*]"
_TAIL = r"(?:Ter|\*)(?P<{name}>[0-9]+|\?)"


def _grammar(r: str) -> tuple[re.Pattern, re.Pattern]:
    location = re.compile(rf"(?P<r1>{r})(?P<n1>{_NUM})(?:_(?P<r2>{r})(?P<n2>{_NUM}))?(?P<rest>.*)")
    rest = re.compile(
        rf"(?P<eq>=|%3D)|(?P<unk>\?)|(?P<kw>del|dup)"
        rf"|delins(?P<delins>(?:{r})+)|ins(?P<ins>(?:{r})+)"
        rf"|(?P<fs>(?P<fsaa>{r})?fs(?:{_TAIL.format(name='fstail')})?)"
        rf"|(?P<ext>(?P<extaa>{r})?ext{_TAIL.format(name='exttail')})"
        rf"|(?P<alt>{r})"
    )
    return location, rest


_GRAMMAR = {"three": _grammar(_R3), "one": _grammar(_R1)}
#: A three-letter code (a capital and two small letters that do not start a keyword: the one-letter
#: ``Cfs``, ``Kdel``, ``Qext`` are not codes).
_THREE_LETTER = re.compile(r"[A-Z](?!del|ins|dup|fs|ext)[a-z]{2}")
_SUBSTITUTION1 = re.compile(rf"([A-Z])({_NUM})([A-Z*])")
_ONE_REF = frozenset(THREE) - {"*"}
_TER_TAIL = re.compile(r"(fs|ext)Ter")
_CODE3 = re.compile(_R3)
_PREFIX = re.compile(r"(?P<ref>[A-Za-z0-9][^:\s\[\]]*):(?P<body>p\..*)")
_LEGACY = re.compile(rf"[A-Za-z]{_NUM}[A-Za-z*]")
_ACCESSION = re.compile(r"[A-Za-z][\w.|()-]{3,}")
_NUCLEOTIDE = re.compile(r"(?:[A-Za-z0-9][^:\s]*:)?[cgnmr]\.")


def parse(text, file: str | None = None, where: str | None = None) -> ProteinVariant:
    """One variant as written -> :class:`ProteinVariant` (no sequence needed).

    Unreadable text raises :class:`InputError` in one line: ``file: where: 'text': problem
    (accepted forms: ...)``; ``where`` names the record, e.g. ``row 7``.
    """
    raw = "" if text is None else str(text)
    try:
        reference, edits = _parse(raw.strip())
    except _Bad as err:
        shown = f"'{raw}'" if raw.isprintable() else repr(raw)
        problem = f"{shown}: {err} (accepted forms: {ACCEPTED_FORMS})"
        raise InputError(f"{where}: {problem}" if where else problem, file) from None
    return ProteinVariant(edits, reference, raw)


def _parse(text: str) -> tuple[str | None, tuple[Edit, ...]]:
    if not text:
        raise _Bad("empty variant")
    if _NUCLEOTIDE.match(text):
        raise _Bad("a nucleotide change (c., g., n., m. or r.): give the protein change (p.)")
    reference = None
    m = _PREFIX.fullmatch(text)
    if m:
        reference, text = m.group("ref"), m.group("body")
    if text.startswith("p."):
        body = _unwrap(text[2:])
        if body.startswith("["):
            if not body.endswith("]") or "]" in body[1:-1]:
                if re.fullmatch(r"\[[^\]]*\];\[.*\]", body):
                    raise _Bad("two alleles ([...];[...]): give one allele per row")
                raise _Bad("an allele needs a closing ']'")
            parts = body[1:-1].split(";")
            if any(not p.strip() for p in parts):
                raise _Bad("an empty change in the allele")
            edits = [_edit(_unwrap(p.strip()), len(parts) > 1) for p in parts]
        else:
            edits = [_edit(body)]
    else:  # the workflow's own forms, and HGVS without "p."
        if text.startswith(("(", "[")):
            raise _Bad("parentheses and brackets need the 'p.' prefix")
        parts = [p.strip() for p in text.split(":")]
        if len(parts) > 1 and _ACCESSION.fullmatch(parts[0]) and not _LEGACY.fullmatch(parts[0]):
            raise _Bad(f"a reference prefix ('{parts[0]}') must be followed by 'p.' "
                       "(like NP_000537.3:p.Arg273His)")
        if any(not p for p in parts):
            raise _Bad("an empty change between ':'")
        edits = [_edit(p.upper() if _LEGACY.fullmatch(p) else p, len(parts) > 1) for p in parts]
    if len(edits) > 1:
        _no_overlap(edits)
    return reference, tuple(edits)


def _unwrap(body: str) -> str:
    """p.(Arg97Cys) -> Arg97Cys (a predicted consequence)."""
    if body.startswith("("):
        if not body.endswith(")"):
            raise _Bad("an opening '(' without its closing ')'")
        return body[1:-1]
    if body.endswith(")"):
        raise _Bad("a closing ')' without its opening '('")
    return body


@lru_cache(maxsize=1 << 16)  # multi-mutant lists repeat their single changes many times
def _edit(text: str, name_it: bool = False) -> Edit:
    """One change; an error names it when the variant has several."""
    try:
        return _read_edit(text)
    except _Bad as err:
        if name_it:
            raise _Bad(f"'{text}': {err}") from None
        raise


def _read_edit(text: str) -> Edit:
    quick = _SUBSTITUTION1.fullmatch(text)  # A25G, the bulk of deep mutational scans
    if quick and quick.group(1) in _ONE_REF and quick.group(3) in THREE:
        wt, number, mt = quick.group(1), int(quick.group(2)), quick.group(3)
        return Edit(SUBSTITUTION, number, wt, number, wt, mt)
    # a three-letter code anywhere (the Ter of fsTer23 / extTer17 does not tell the style)
    style = "three" if _THREE_LETTER.search(_TER_TAIL.sub(r"\1*", text)) else "one"
    location, rest_re = _GRAMMAR[style]
    if ";" in text:
        raise _Bad("';' joins changes inside p.[...;...] only "
                   "(or join them with ':', as A25G:K40R)")
    m = location.fullmatch(text)
    if not m:
        raise _Bad("not a protein change")
    codes = _three_codes if style == "three" else _one_codes
    n1 = int(m.group("n1"))
    r1 = codes(m.group("r1"))
    ranged = m.group("n2") is not None
    n2 = int(m.group("n2")) if ranged else n1
    r2 = codes(m.group("r2")) if ranged else r1
    rest = m.group("rest")
    g = rest_re.fullmatch(rest)
    if not g:
        if not rest:
            raise _Bad("a residue but no change")
        mixed = style == "three" and _GRAMMAR["one"][1].fullmatch(rest)
        raise _Bad(f"cannot read the change '{rest}'"
                   + (" (one- and three-letter codes mixed)" if mixed else ""))
    if ranged and n2 <= n1:
        raise _Bad(f"the range {n1}_{n2} runs backwards" if n2 < n1 else
                   f"the range {n1}_{n2} has one residue: write it once")

    def single(what: str) -> None:
        if ranged:
            raise _Bad(f"{what} names one residue, not a range")

    def ref_not_stop(what: str) -> None:
        if "*" in (r1, r2):
            raise _Bad(f"a {what} of the stop (Ter); a change of the stop is written "
                       "as an extension, like p.Ter110GlnextTer17")

    if g.group("eq"):
        single("a synonymous change")
        return Edit(SUBSTITUTION, n1, r1, n1, r1, r1)
    if g.group("unk"):
        single("'?'")
        if (n1, r1) != (1, "M"):
            raise _Bad("'?' (unknown consequence) is accepted for the start codon only "
                       "(p.Met1?)")
        return Edit(UNKNOWN, 1, "M", 1, "M")
    if g.group("kw"):
        kind = DELETION if g.group("kw") == "del" else DUPLICATION
        ref_not_stop("deletion" if kind == DELETION else "duplication")
        return Edit(kind, n1, r1, n2, r2)
    if g.group("delins") is not None or g.group("ins") is not None:
        kind = DELINS if g.group("delins") is not None else INSERTION
        inserted = codes(g.group("delins") or g.group("ins"))
        ref_not_stop("deletion-insertion" if kind == DELINS else "insertion")
        if "*" in inserted:
            raise _Bad("a stop among inserted residues; write the stop-gain "
                       "(like p.Trp30Ter)")
        if kind == INSERTION:
            if not ranged:
                raise _Bad("an insertion names its two neighbouring residues "
                           "(like p.Lys12_Glu13insGlyAla)")
            if n2 != n1 + 1:
                raise _Bad(f"the insertion's flanking residues {n1} and {n2} are not "
                           "neighbours")
        return Edit(kind, n1, r1, n2, r2, inserted)
    if g.group("fs"):
        single("a frameshift")
        ref_not_stop("frameshift")
        alt = codes(g.group("fsaa")) if g.group("fsaa") else ""
        if alt == "*":
            raise _Bad("a frameshift's first new residue cannot be the stop")
        return Edit(FRAMESHIFT, n1, r1, n1, r1, alt, g.group("fstail") or "")
    if g.group("ext"):
        single("an extension")
        if r1 != "*":
            raise _Bad("an extension starts at the stop (like p.Ter110GlnextTer17)")
        alt = codes(g.group("extaa")) if g.group("extaa") else ""
        if alt == "*":
            raise _Bad("an extension's first new residue cannot be the stop")
        return Edit(EXTENSION, n1, r1, n1, r1, alt, g.group("exttail"))
    single("a substitution")
    alt = codes(g.group("alt"))
    if r1 == "*" and alt != "*":
        ref_not_stop("substitution")
    return Edit(SUBSTITUTION, n1, r1, n1, r1, alt)


def _three_codes(text: str) -> str:
    out = []
    for code in _CODE3.findall(text):
        if code not in ONE and code != "*":
            raise _Bad(f"'{code}' is not an amino-acid code")
        out.append(ONE.get(code, "*"))
    return "".join(out)


def _one_codes(text: str) -> str:
    for code in text:
        if code == "X":
            raise _Bad("'X' is not accepted (for a stop write * or Ter)")
        if code not in THREE:
            raise _Bad(f"'{code}' is not an amino-acid code")
    return text


def _three(residues: str) -> str:
    return "".join(THREE[r] for r in residues)


def _no_overlap(edits: list[Edit]) -> None:
    spans = sorted(((e._span(), e) for e in edits), key=lambda pair: pair[0])
    for (a_span, a), (b_span, b) in zip(spans, spans[1:]):
        if b_span[0] <= a_span[1]:
            if a_span[1] == float("inf") and a.start != b.start:
                raise _Bad(f"'{b.hgvs}' comes after '{a.hgvs}', which ends the protein")
            raise _Bad(f"'{a.hgvs}' and '{b.hgvs}' change the same residues")


# -- against a sequence -------------------------------------------------------------------------
def _name(residue: str) -> str:
    return THREE.get(residue) or _OTHER_NAMES.get(residue) or residue


def check(variant: ProteinVariant, sequence, offset: int = 1, where: str | None = None,
          file: str | None = None, name: str | None = None) -> tuple[int, ...]:
    """Check every reference residue of ``variant`` against ``sequence`` (a string, or a
    :class:`~esm1v_scan.inputs.fasta.Protein`, whose id names it) numbered from ``offset``.

    Returns the sorted 1-based positions the variant reads or changes (a range: all its residues;
    an insertion: its two flanks; an extension: none, the stop is not in the sequence). A mismatch
    raises :class:`InputError` in one line, e.g. ``variants.csv: row 7: p.Arg97Cys: residue 97 is
    Lys in sequence P53_HUMAN, not Arg``.
    """
    if not isinstance(sequence, str):
        name = name or sequence.id
        sequence = sequence.sequence
    seq_name = f"sequence {name}" if name else "the sequence"
    length, last = len(sequence), offset + len(sequence) - 1

    def bad(problem: str):
        head = f"{variant.text.strip() or variant.hgvs}: {problem}"
        return InputError(f"{where}: {head}" if where else head, file)

    positions: set[int] = set()
    for edit in variant.edits:
        named = [(edit.start, edit.start_ref)]
        if edit.end != edit.start:
            named.append((edit.end, edit.end_ref))
        for number, ref in named:
            if number < offset:
                raise bad(f"residue {number} is before the first residue of {seq_name}, "
                          f"numbered {offset}")
            if ref == "*":
                if number <= last:
                    raise bad(f"residue {number} is {_name(sequence[number - offset])} in "
                              f"{seq_name}, not Ter")
                if number > last + 1:
                    raise bad(f"residue {number} is beyond the stop of {seq_name}, numbered "
                              f"{last + 1}")
                continue
            if number > last:
                raise bad(f"residue {number} is beyond the last residue of {seq_name}, numbered "
                          f"{last} ({length} residues, the first numbered {offset})")
            have = sequence[number - offset]
            if have != ref:
                raise bad(f"residue {number} is {_name(have)} in {seq_name}, not {_name(ref)}")
        if edit.start_ref != "*":
            positions.update(range(edit.start - offset + 1, edit.end - offset + 2))
    return tuple(sorted(positions))


def sites(variant: ProteinVariant, offset: int = 1) -> tuple[Site, ...]:
    """The substitutions to score, in the order written (call :func:`check` first). ValueError
    for a variant that is not made of substitutions to the 20 amino acids."""
    if not variant.substitutions_only:
        raise ValueError(f"{variant.hgvs_p}: a {variant.variant_type} variant has no single-site "
                         "substitutions to score")
    return tuple(Site(e.start - offset + 1, e.start, e.start_ref, e.alt) for e in variant.edits)


def apply(variant: ProteinVariant, sequence, offset: int = 1) -> str:
    """The mutant sequence. Reference residues are checked first (:func:`check`); ValueError for a
    variant whose mutant sequence is not known (frameshift, ``p.Met1?``, extension). A stop-gain
    truncates the sequence before the stop. Changes are applied from the 3' end, so the positions
    of those before stay valid."""
    if not variant.sequence_known:
        raise ValueError(f"{variant.hgvs_p}: a {variant.variant_type} variant does not give its "
                         "mutant sequence")
    check(variant, sequence, offset)
    seq = sequence if isinstance(sequence, str) else sequence.sequence
    for edit in sorted(variant.edits, key=lambda e: e._span(), reverse=True):
        i, j = edit.start - offset, edit.end - offset  # 0-based, inclusive
        if edit.kind == SUBSTITUTION:
            seq = seq[:i] if edit.alt == "*" else seq[:i] + edit.alt + seq[i + 1:]
        elif edit.kind == DELETION:
            seq = seq[:i] + seq[j + 1:]
        elif edit.kind == INSERTION:
            seq = seq[:i + 1] + edit.alt + seq[i + 1:]
        elif edit.kind == DELINS:
            seq = seq[:i] + edit.alt + seq[j + 1:]
        else:  # DUPLICATION
            seq = seq[:j + 1] + seq[i:j + 1] + seq[j + 1:]
    return seq


def names_sequence(reference: str | None, seq_id: str) -> bool:
    """Whether a reference prefix names the FASTA record ``seq_id``: the same accession, the
    version ignored (``ENSP00000269305.4`` names ``ENSP00000269305.3``: the residue check finds a
    real difference), matching the id or one of its ``|`` fields (``sp|P04637|P53_HUMAN``)."""
    if not reference:
        return False
    want = _accession(reference)
    return any(_accession(part) == want for part in {seq_id, *seq_id.split("|")} if part)


def _accession(text: str) -> str:
    text = re.sub(r"\([^()]*\)$", "", text.strip())  # NM_000546.6(TP53) -> NM_000546.6
    return re.sub(r"\.\d+$", "", text)
