"""Small annotated VCFs and an Ensembl-style protein FASTA, written into a folder by the tests.

:func:`write_vep_case` writes ``calls.vep.vcf`` (VEP ``CSQ``; ``gz=True``: ``calls.vep.vcf.gz``, bgzipped) and
``pep.fa``; :func:`write_snpeff_case` writes the same variants annotated by SnpEff (``ANN``,
``calls.snpeff.vcf``) with the same FASTA. Both return a :class:`VcfCase`: the paths, the
proteins and :data:`EXPECTED`, what each entry should become, written out by hand (not computed by
the code under test).

The proteins are random but fixed (seeded) sequences of 60-150 residues:

- GENEA: ``ENSP00000000001.1`` (transcript ``ENST00000000001.5``, MANE Select and canonical);
  ``ENSP00000000002.1`` (``ENST00000000002.1``, an isoform lacking residues 51-60 of the first);
  ``ENSP00000000003.1`` (``ENST00000000003.2``, the same sequence as the first: deduplicated, its
  entries score under the key ``ENSP00000000001.1``).
- GENEB: ``ENSP00000000004.1`` (``ENST00000000004.3``, canonical, MANE Select).
- GENEC: ``ENST00000000009.1`` / ``ENSP00000000009.1`` is annotated but NOT in the FASTA.

Records (0-based ``record`` index of the data lines, one per line, all on chromosome 1, sorted):

 0. missense on GENEA: p.{A1[9]}10{X}: three transcripts (MANE, isoform, duplicate).
 1. synonymous on GENEA (residue 20 of ENSP...1): kept, scored 0.
 2. stop-gain on GENEA at residue 100 of ENSP...1 (90 of the isoform, which lacks 51-60).
 3. in-frame deletion of residue 30 of GENEB (``inframe_deletion``; REF 4 bases, ALT 1).
 4. in-frame insertion of Gly-Ala between residues 40 and 41 of GENEB (VEP gives no HGVSp for
    this one: Protein_position ``40-41`` + Amino_acids ``-/GA`` make it).
 5. frameshift in GENEB at residue 50: flagged ``frameshift``.
 6. multi-allelic SNV at residue 60 of GENEB: ALT 1 missense, ALT 2 stop-gain; each scored on
    its own.
 7. missense on GENEC, whose protein is not in the FASTA: ``protein_not_found``.
 8. a reference mismatch: missense on GENEB naming a wrong reference residue at 70.
 9. no annotation at all (no CSQ/ANN key in INFO): passed through.
10. non-coding (intron_variant, upstream_gene_variant): passed through.
11. a symbolic ``<DEL>`` (``feature_truncation``): passed through.
12. missense on GENEB residue 75 with the HGVSp left empty and Amino_acids ``X/Y`` given (the
    Protein_position + Amino_acids path for a substitution).
"""

from __future__ import annotations

import gzip
import random
from dataclasses import dataclass, field
from pathlib import Path

AA = "ACDEFGHIKLMNPQRSTVWY"
THREE = {"A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
         "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
         "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter"}


def _protein(rng: random.Random, n: int) -> str:
    return "M" + "".join(rng.choice(AA) for _ in range(n - 1))


_rng = random.Random(1801)
SEQ_A = _protein(_rng, 130)
SEQ_A_ISO = SEQ_A[:50] + SEQ_A[60:]  # lacks residues 51-60
SEQ_B = _protein(_rng, 96)
SEQ_C = _protein(_rng, 70)  # GENEC's protein: never written to the FASTA

#: id, transcript, gene, symbol, sequence (FASTA order)
PROTEINS = [
    ("ENSP00000000001.1", "ENST00000000001.5", "ENSG00000000001.3", "GENEA", SEQ_A),
    ("ENSP00000000002.1", "ENST00000000002.1", "ENSG00000000001.3", "GENEA", SEQ_A_ISO),
    ("ENSP00000000003.1", "ENST00000000003.2", "ENSG00000000001.3", "GENEA", SEQ_A),
    ("ENSP00000000004.1", "ENST00000000004.3", "ENSG00000000004.2", "GENEB", SEQ_B),
]
MANE = {"ENST00000000001.5": "NM_000001.2", "ENST00000000004.3": "NM_000004.1"}
CANONICAL = {"ENST00000000001.5", "ENST00000000004.3"}
TX = {t: (p, g, s, q) for p, t, g, s, q in PROTEINS}
TX["ENST00000000009.1"] = ("ENSP00000000009.1", "ENSG00000000009.1", "GENEC", SEQ_C)


def _other(residue: str, k: int = 1) -> str:
    """A residue different from ``residue`` (deterministic)."""
    return AA[(AA.index(residue) + k) % 20] if residue in AA else "A"


def _t(s: str) -> str:
    return "".join(THREE[c] for c in s)


# Each entry: (transcript, kind, residue, detail); kinds: missense (detail: new residue),
# synonymous, stop, del, ins (detail: inserted residues), fs, mismatch (detail: wrong ref, new).
_A10, _B60 = SEQ_A[9], SEQ_B[59]
_MIS_A = _other(_A10, 3)
_MIS_B60 = _other(_B60, 5)
_MIS_B75 = _other(SEQ_B[74], 2)
_WRONG70 = _other(SEQ_B[69], 7)
_MIS_C = _other(SEQ_C[14], 4)

#: the records: chrom, pos, ref, alts, [(alt index, transcript, kind, residue, detail)], info
RECORDS = [
    ("1", 1000, "C", ["T"], [
        (1, "ENST00000000001.5", "missense", 10, _MIS_A),
        (1, "ENST00000000002.1", "missense", 10, _MIS_A),
        (1, "ENST00000000003.2", "missense", 10, _MIS_A)]),
    ("1", 1100, "G", ["A"], [(1, "ENST00000000001.5", "synonymous", 20, None)]),
    ("1", 1200, "G", ["A"], [
        (1, "ENST00000000001.5", "stop", 100, None),
        (1, "ENST00000000002.1", "stop", 90, None)]),
    ("1", 2000, "CAAG", ["C"], [(1, "ENST00000000004.3", "del", 30, None)]),
    ("1", 2100, "T", ["TGGTGCA"], [(1, "ENST00000000004.3", "ins", 40, "GA")]),
    ("1", 2200, "CA", ["C"], [(1, "ENST00000000004.3", "fs", 50, None)]),
    ("1", 2300, "G", ["A", "T"], [
        (1, "ENST00000000004.3", "missense", 60, _MIS_B60),
        (2, "ENST00000000004.3", "stop", 60, None)]),
    ("1", 3000, "A", ["G"], [(1, "ENST00000000009.1", "missense", 15, _MIS_C)]),
    ("1", 3100, "T", ["C"], [(1, "ENST00000000004.3", "mismatch", 70, (_WRONG70, "W"))]),
    ("1", 3200, "A", ["C"], None),  # no annotation
    ("1", 3300, "G", ["C"], "noncoding"),
    ("1", 3400, "N", ["<DEL>"], "symbolic"),
    ("1", 3500, "A", ["T"], [(1, "ENST00000000004.3", "missense_no_hgvsp", 75, _MIS_B75)]),
]

#: What each (record, allele, feature) entry becomes: normalised hgvs_p, variant_type, key, flag.
EXPECTED = [
    (0, 1, "ENST00000000001.5", f"p.{_t(_A10)}10{_t(_MIS_A)}", "missense", "ENSP00000000001.1", ""),
    (0, 1, "ENST00000000002.1", f"p.{_t(_A10)}10{_t(_MIS_A)}", "missense", "ENSP00000000002.1", ""),
    (0, 1, "ENST00000000003.2", f"p.{_t(_A10)}10{_t(_MIS_A)}", "missense", "ENSP00000000001.1", ""),
    (1, 1, "ENST00000000001.5", f"p.{_t(SEQ_A[19])}20=", "synonymous", "ENSP00000000001.1", ""),
    (2, 1, "ENST00000000001.5", f"p.{_t(SEQ_A[99])}100Ter", "stop_gained", "ENSP00000000001.1", ""),
    (2, 1, "ENST00000000002.1", f"p.{_t(SEQ_A_ISO[89])}90Ter", "stop_gained", "ENSP00000000002.1",
     ""),
    (3, 1, "ENST00000000004.3", f"p.{_t(SEQ_B[29])}30del", "inframe_deletion", "ENSP00000000004.1",
     ""),
    (4, 1, "ENST00000000004.3", f"p.{_t(SEQ_B[39])}40_{_t(SEQ_B[40])}41insGlyAla",
     "inframe_insertion", "ENSP00000000004.1", ""),
    (5, 1, "ENST00000000004.3", f"p.{_t(SEQ_B[49])}50fs", "frameshift", "", "frameshift"),
    (6, 1, "ENST00000000004.3", f"p.{_t(_B60)}60{_t(_MIS_B60)}", "missense", "ENSP00000000004.1",
     ""),
    (6, 2, "ENST00000000004.3", f"p.{_t(_B60)}60Ter", "stop_gained", "ENSP00000000004.1", ""),
    (7, 1, "ENST00000000009.1", f"p.{_t(SEQ_C[14])}15{_t(_MIS_C)}", "missense", "",
     "protein_not_found"),
    (8, 1, "ENST00000000004.3", f"p.{_t(_WRONG70)}70Trp", "missense", "", "reference_mismatch"),
    (12, 1, "ENST00000000004.3", f"p.{_t(SEQ_B[74])}75{_t(_MIS_B75)}", "missense",
     "ENSP00000000004.1", ""),
]
#: records passed through with no ESM1v INFO
PASS_THROUGH = [9, 10, 11]

CSQ_FIELDS = ("Allele|Consequence|IMPACT|SYMBOL|Gene|Feature_type|Feature|BIOTYPE|EXON|INTRON|"
              "HGVSc|HGVSp|cDNA_position|CDS_position|Protein_position|Amino_acids|Codons|"
              "Existing_variation|DISTANCE|STRAND|FLAGS|SYMBOL_SOURCE|HGNC_ID|CANONICAL|"
              "MANE_SELECT|MANE_PLUS_CLINICAL|ENSP").split("|")
ANN_FIELDS = ("Allele | Annotation | Annotation_Impact | Gene_Name | Gene_ID | Feature_Type | "
              "Feature_ID | Transcript_BioType | Rank | HGVS.c | HGVS.p | cDNA.pos / cDNA.length | "
              "CDS.pos / CDS.length | AA.pos / AA.length | Distance | ERRORS / WARNINGS / INFO")


@dataclass
class VcfCase:
    folder: Path
    vcf: Path
    proteins: Path
    annotation: str  #: "CSQ" or "ANN"
    expected: list = field(default_factory=lambda: list(EXPECTED))
    pass_through: list = field(default_factory=lambda: list(PASS_THROUGH))
    n_records: int = len(RECORDS)
    sequences: dict = field(default_factory=lambda: {p: s for p, _, _, _, s in PROTEINS})


def _vep_allele(ref: str, alts: list[str], i: int) -> str:
    alleles = [ref, *alts]
    if len({a[0] for a in alleles}) == 1 and not all(len(a) == 1 for a in alleles):
        return alts[i - 1][1:] or "-"
    return alts[i - 1]


def _change(kind: str, tx: str, res: int, detail):
    """(consequence, HGVSp body (three-letter, VEP's), SnpEff HGVS.p, Protein_position,
    Amino_acids) of one entry."""
    seq = TX[tx][3]
    r = seq[res - 1]
    if kind in ("missense", "missense_no_hgvsp"):
        h = f"p.{_t(r)}{res}{_t(detail)}"
        return "missense_variant", ("" if kind == "missense_no_hgvsp" else h), h, str(res), \
            f"{r}/{detail}"
    if kind == "mismatch":
        wrong, new = detail
        h = f"p.{_t(wrong)}{res}{_t(new)}"
        return "missense_variant", h, h, str(res), f"{wrong}/{new}"
    if kind == "synonymous":
        return "synonymous_variant", f"p.{_t(r)}{res}%3D", f"p.{_t(r)}{res}{_t(r)}", str(res), r
    if kind == "stop":
        return "stop_gained", f"p.{_t(r)}{res}Ter", f"p.{_t(r)}{res}*", str(res), f"{r}/*"
    if kind == "del":
        h = f"p.{_t(r)}{res}del"
        return "inframe_deletion", h, h, str(res), f"{r}/-"
    if kind == "ins":
        h = f"p.{_t(r)}{res}_{_t(seq[res])}{res + 1}ins{_t(detail)}"
        return "inframe_insertion", "", h, f"{res}-{res + 1}", f"-/{detail}"
    if kind == "fs":
        return "frameshift_variant", f"p.{_t(r)}{res}fs", f"p.{_t(r)}{res}fs", str(res), f"{r}/X"
    raise ValueError(kind)


def _csq(ref: str, alts: list[str], entries) -> str:
    out = []
    if entries == "noncoding":
        for tx in ("ENST00000000001.5", "ENST00000000004.3"):
            p, g, s, _ = TX[tx]
            f = dict.fromkeys(CSQ_FIELDS, "")
            f.update(Allele=_vep_allele(ref, alts, 1),
                     Consequence="intron_variant" if tx.endswith("1.5") else "upstream_gene_variant",
                     IMPACT="MODIFIER", SYMBOL=s, Gene=g, Feature_type="Transcript", Feature=tx,
                     BIOTYPE="protein_coding", STRAND="1", ENSP=p)
            out.append("|".join(f[k] for k in CSQ_FIELDS))
        return ",".join(out)
    if entries == "symbolic":
        p, g, s, _ = TX["ENST00000000004.3"]
        f = dict.fromkeys(CSQ_FIELDS, "")
        f.update(Allele="deletion", Consequence="feature_truncation&coding_sequence_variant",
                 IMPACT="MODIFIER", SYMBOL=s, Gene=g, Feature_type="Transcript",
                 Feature="ENST00000000004.3", BIOTYPE="protein_coding", ENSP=p)
        return "|".join(f[k] for k in CSQ_FIELDS)
    for i, tx, kind, res, detail in entries:
        p, g, s, _ = TX[tx]
        cons, hgvsp, _, ppos, aas = _change(kind, tx, res, detail)
        f = dict.fromkeys(CSQ_FIELDS, "")
        f.update(Allele=_vep_allele(ref, alts, i), Consequence=cons,
                 IMPACT="HIGH" if cons in ("stop_gained", "frameshift_variant") else "MODERATE",
                 SYMBOL=s, Gene=g, Feature_type="Transcript", Feature=tx, BIOTYPE="protein_coding",
                 HGVSp=f"{p}:{hgvsp}" if hgvsp else "", Protein_position=ppos, Amino_acids=aas,
                 STRAND="1", SYMBOL_SOURCE="HGNC", CANONICAL="YES" if tx in CANONICAL else "",
                 MANE_SELECT=MANE.get(tx, ""), ENSP=p)
        out.append("|".join(f[k] for k in CSQ_FIELDS))
    return ",".join(out)


_SNPEFF_NAMES = {"inframe_deletion": "conservative_inframe_deletion",
                 "inframe_insertion": "disruptive_inframe_insertion"}


def _ann(ref: str, alts: list[str], entries) -> str:
    def one(allele, cons, impact, s, g, tx, hgvsp="", aapos=""):
        return "|".join([allele, cons, impact, s, g, "transcript", tx, "protein_coding", "1/5",
                         "c.1A>G", hgvsp, "", "", aapos, "", ""])

    if entries == "noncoding":
        return ",".join(one(alts[0], c, "MODIFIER", TX[tx][2], TX[tx][1], tx) for tx, c in
                        (("ENST00000000001.5", "intron_variant"),
                         ("ENST00000000004.3", "upstream_gene_variant")))
    if entries == "symbolic":
        tx = "ENST00000000004.3"
        return one(alts[0], "feature_ablation", "HIGH", TX[tx][2], TX[tx][1], tx)
    out = []
    for i, tx, kind, res, detail in entries:
        p, g, s, seq = TX[tx]
        cons, _, hgvsp, _, _ = _change(kind, tx, res, detail)
        cons = _SNPEFF_NAMES.get(cons, cons)
        if kind == "stop":
            cons = "stop_gained&splice_region_variant"  # an &-joined term list
        out.append(one(alts[i - 1], cons, "MODERATE", s, g, tx, hgvsp, f"{res}/{len(seq)}"))
    return ",".join(out)


def _header(info_line: str) -> list[str]:
    return ["##fileformat=VCFv4.2",
            "##FILTER=<ID=PASS,Description=\"All filters passed\">",
            "##contig=<ID=1,length=248956422>",
            "##INFO=<ID=DP,Number=1,Type=Integer,Description=\"Total depth\">",
            "##INFO=<ID=SVTYPE,Number=1,Type=String,Description=\"Type of structural variant\">",
            "##INFO=<ID=END,Number=1,Type=Integer,Description=\"End position\">",
            info_line,
            "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">",
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1"]


def _lines(tag: str, make) -> list[str]:
    out = []
    for k, (chrom, pos, ref, alts, entries) in enumerate(RECORDS):
        info = f"DP={20 + k}"
        if alts[0] == "<DEL>":
            info += ";SVTYPE=DEL;END=3900"
        if entries is not None:
            info += f";{tag}={make(ref, alts, entries)}"
        out.append("\t".join([chrom, str(pos), f"rs{100 + k}", ref, ",".join(alts), "50",
                              "PASS", info, "GT", "0/1" if len(alts) == 1 else "1/2"]))
    return out


def write_proteins(folder: Path, gz: bool = False) -> Path:
    """The Ensembl-style pep FASTA (GENEC's protein left out), 60 residues a line."""
    lines = []
    for p, t, g, s, seq in PROTEINS:
        lines.append(f">{p} pep chromosome:GRCh38:1:1000:3000:1 gene:{g} transcript:{t} "
                     f"gene_biotype:protein_coding transcript_biotype:protein_coding "
                     f"gene_symbol:{s} description:fixture protein {s}")
        lines += [seq[i:i + 60] for i in range(0, len(seq), 60)]
    text = "\n".join(lines) + "\n"
    path = folder / ("pep.fa.gz" if gz else "pep.fa")
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def _write(folder: Path, name: str, lines: list[str], gz: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if not gz:
        (folder / name).write_text(text)
        return folder / name
    from pysam.libcbgzf import BGZFile  # bgzip, as htslib writes it

    path = folder / (name + ".gz")
    with BGZFile(str(path), "wb") as fh:
        fh.write(text.encode())
    return path


def write_vep_case(folder, gz: bool = False) -> VcfCase:
    """``folder/calls.vep.vcf[.gz]`` + ``folder/pep.fa``."""
    folder = Path(folder)
    info = ("##INFO=<ID=CSQ,Number=.,Type=String,Description=\"Consequence annotations from "
            f"Ensembl VEP. Format: {'|'.join(CSQ_FIELDS)}\">")
    vcf = _write(folder, "calls.vep.vcf", _header(info) + _lines("CSQ", _csq), gz)
    return VcfCase(folder, vcf, write_proteins(folder), "CSQ")


def write_snpeff_case(folder, gz: bool = False) -> VcfCase:
    """``folder/calls.snpeff.vcf[.gz]`` + ``folder/pep.fa``: the same variants, SnpEff's ANN."""
    folder = Path(folder)
    info = ("##INFO=<ID=ANN,Number=.,Type=String,Description=\"Functional annotations: "
            f"'{ANN_FIELDS}' \">")
    vcf = _write(folder, "calls.snpeff.vcf", _header(info) + _lines("ANN", _ann), gz)
    return VcfCase(folder, vcf, write_proteins(folder), "ANN")
