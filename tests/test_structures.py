"""Structures: mapping a PDB/mmCIF chain onto the FASTA sequence (own numbering, a missing loop, an
insertion code, a point mutant, an expression tag), B-factors, ChimeraX/PyMOL files, errors."""

import math

import numpy as np
import pandas as pd
import pytest
from Bio.PDB import MMCIFParser, PDBParser

from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.inputs.structures import StructureSpec, check_structures, output_name
from esm1v_scan.outputs.structure_files import write_outputs

SEQ = "MKTAYIAKQRQISFVKSHFSRQ"  # 22 residues
PROT = Protein("tiny_2", "tiny_2", SEQ)
THREE = {"A": "ALA", "C": "CYS", "D": "ASP", "E": "GLU", "F": "PHE", "G": "GLY", "H": "HIS",
         "I": "ILE", "K": "LYS", "L": "LEU", "M": "MET", "N": "ASN", "P": "PRO", "Q": "GLN",
         "R": "ARG", "S": "SER", "T": "THR", "V": "VAL", "W": "TRP", "Y": "TYR"}

# chain A: positions 3-10 numbered 101-108, positions 11-14 missing (a loop), 15-22 numbered 113,
# 113A (insertion code), 114, ...; position 19 (F) is an alanine in the crystal; a His tag after.
CHAIN_A = [(p, 98 + p, " ", THREE[SEQ[p - 1]]) for p in range(3, 11)]
CHAIN_A += [(15, 113, " ", THREE[SEQ[14]]), (16, 113, "A", THREE[SEQ[15]])]
CHAIN_A += [(p, 97 + p, " ", "ALA" if p == 19 else THREE[SEQ[p - 1]]) for p in range(17, 23)]
TAG = [(None, 120 + k, " ", "HIS") for k in range(6)]
CHAIN_B = [(None, k + 1, " ", "GLY" if k % 2 else "PRO") for k in range(20)]  # unrelated


def _pdb_text(chains: dict) -> str:
    lines, serial = [], 1
    for chain, residues in chains.items():
        for k, (_, num, icode, name) in enumerate(residues):
            for atom, dx in (("N", 0.0), ("CA", 1.2), ("C", 2.4)):
                lines.append(
                    f"ATOM  {serial:5d}  {atom:<3s} {name:3s} {chain}{num:4d}{icode}   "
                    f"{3.8 * k + dx:8.3f}{0.0:8.3f}{0.0:8.3f}{1.0:6.2f}{35.5:6.2f}"
                    f"          {atom[0]:>2s}")
                serial += 1
        lines.append("TER")
    lines.append(f"HETATM{serial:5d}  O   HOH W   1    {10.0:8.3f}{10.0:8.3f}{10.0:8.3f}"
                 f"{1.0:6.2f}{20.0:6.2f}           O")
    return "\n".join(lines + ["END"]) + "\n"


@pytest.fixture
def pdb_file(tmp_path):
    path = tmp_path / "model.pdb"
    path.write_text(_pdb_text({"A": CHAIN_A + TAG, "B": CHAIN_B}))
    return path


# a hand-made positions table: mean_score = position/4 - 3 (exact in a PDB's two decimals)
POSITIONS = pd.DataFrame({"position": range(1, 23), "mean_score": [p / 4 - 3 for p in range(1, 23)]})
EXPECTED_B = {(num, icode): p / 4 - 3 for p, num, icode, _ in CHAIN_A}


def _bfactors(structure, chain):
    return {(r.id[1], r.id[2]): {a.get_bfactor() for a in r} for r in structure[0][chain]}


def test_pdb_bfactors_map_attribute_file_and_script(pdb_file, tmp_path):
    out = tmp_path / "results"
    warnings = write_outputs(StructureSpec("tiny_2", str(pdb_file)), PROT, POSITIONS, out)
    assert warnings == [f"{pdb_file}: chain A differs from the sequence at F19 -> A 116 ALA"]

    s = PDBParser(QUIET=True).get_structure("x", str(out / "structure.pdb"))
    b = _bfactors(s, "A")
    for key, value in EXPECTED_B.items():
        assert b[key] == {value}, key
    for k in range(6):  # the tag: not in the sequence
        assert b[(120 + k, " ")] == {0.0}
    assert all(v == {0.0} for v in _bfactors(s, "B").values())
    assert [a.get_bfactor() for a in s[0]["W"].get_atoms()] == [0.0]  # water
    assert b[(113, "A")] == {16 / 4 - 3}  # the insertion-code residue is position 16

    m = pd.read_csv(out / "structure_map.tsv", sep="\t", keep_default_na=False, dtype=str)
    assert list(m.columns) == ["position", "chain", "resnum", "icode", "resname", "match"]
    rows = {r.position: r for r in m.itertuples() if r.position}
    assert len(rows) == 22
    for p in (1, 2, 11, 12, 13, 14):
        assert (rows[str(p)].chain, rows[str(p)].resnum, rows[str(p)].match) == ("", "", "missing")
    assert tuple(rows["3"])[1:] == ("3", "A", "101", "", "THR", "identical")
    assert tuple(rows["16"])[1:] == ("16", "A", "113", "A", "LYS", "identical")
    assert tuple(rows["19"])[1:] == ("19", "A", "116", "", "ALA", "mismatch")
    tag = m[m.position == ""]
    assert tag.resnum.tolist() == [str(120 + k) for k in range(6)]
    assert set(tag.match) == {"unaligned"}

    defattr = (out / "structure.defattr").read_text().splitlines()
    assert "attribute: esm1v_mean_score" in defattr
    assert "match mode: 1-to-1" in defattr and "recipient: residues" in defattr
    data = [line for line in defattr if line.startswith("\t")]
    assert len(data) == 16
    assert "\t/A:101\t-2.25" in data and "\t/A:113A\t1" in data and "\t/A:116\t1.75" in data

    pml = (out / "structure.pml").read_text()
    assert "load structure.pdb, esm1v" in pml
    assert "spectrum b, red_white_blue, esm1v_scored, minimum=-2.5, maximum=2.5" in pml
    assert "resi 101+102+103+104+105+106+107+108+113+113A+114+" in pml


def test_mmcif_round_trip(pdb_file, tmp_path):
    s = PDBParser(QUIET=True).get_structure("x", str(pdb_file))
    from Bio.PDB import MMCIFIO

    cif = tmp_path / "model.cif"
    io = MMCIFIO()
    io.set_structure(s)
    io.save(str(cif))
    out = tmp_path / "results"
    assert output_name(cif) == "structure.cif"
    write_outputs(StructureSpec("tiny_2", str(cif), "A"), PROT, POSITIONS, out)
    assert not (out / "structure.pdb").exists()
    back = MMCIFParser(QUIET=True).get_structure("y", str(out / "structure.cif"))
    b = _bfactors(back, "A")
    for key, value in EXPECTED_B.items():
        assert b[key] == {value}, key
    assert "load structure.cif, esm1v" in (out / "structure.pml").read_text()


def test_default_chain_is_the_aligning_one(pdb_file, tmp_path):
    # chain B first in the file: the default still takes A, the one that aligns
    path = tmp_path / "ba.pdb"
    path.write_text(_pdb_text({"B": CHAIN_B, "A": CHAIN_A}))
    assert check_structures({"tiny_2": str(path)}, [PROT])["tiny_2"].chain == "A"
    assert check_structures({"tiny_2": {"path": str(pdb_file), "chain": "A"}}, [PROT])["tiny_2"] \
        == StructureSpec("tiny_2", str(pdb_file), "A")


def test_errors_are_one_line_naming_file_and_chain(pdb_file, tmp_path):
    with pytest.raises(InputError, match=r"model\.pdb: record 'tiny_2': chain 'C' not found \(protein chains: A, B\)"):
        check_structures({"tiny_2": {"path": str(pdb_file), "chain": "C"}}, [PROT])
    with pytest.raises(InputError, match=r"model\.pdb: record 'tiny_2': chain 'B' does not align"):
        check_structures({"tiny_2": {"path": str(pdb_file), "chain": "B"}}, [PROT])
    only_b = tmp_path / "b.pdb"
    only_b.write_text(_pdb_text({"B": CHAIN_B}))
    with pytest.raises(InputError, match=r"b\.pdb: record 'tiny_2': no chain aligns"):
        check_structures({"tiny_2": str(only_b)}, [PROT])
    bad = tmp_path / "bad.cif"
    bad.write_text("this is not an mmCIF file\n")
    with pytest.raises(InputError, match=r"bad\.cif: cannot read the structure"):
        check_structures({"tiny_2": str(bad)}, [PROT])
    with pytest.raises(InputError, match=r"nope\.pdb: structure file not found"):
        check_structures({"tiny_2": str(tmp_path / "nope.pdb")}, [PROT])
    with pytest.raises(InputError, match=r"structure given for 'other', which is not a FASTA id"):
        check_structures({"other": str(pdb_file)}, [PROT])
    for err_case in ({"tiny_2": {"path": str(pdb_file), "chian": "A"}}, {"tiny_2": {"chain": "A"}}):
        with pytest.raises(InputError, match="give a path or a mapping with 'path'"):
            check_structures(err_case, [PROT])


def test_unscored_positions_get_zero_and_no_attribute(pdb_file, tmp_path):
    # a variant list scores only some sites: the others stay at 0 and out of the attribute file
    some = POSITIONS[POSITIONS.position.isin([3, 16])]
    write_outputs(StructureSpec("tiny_2", str(pdb_file)), PROT, some, tmp_path)
    b = _bfactors(PDBParser(QUIET=True).get_structure("x", str(tmp_path / "structure.pdb")), "A")
    assert b[(101, " ")] == {-2.25} and b[(113, "A")] == {1.0} and b[(102, " ")] == {0.0}
    data = [x for x in (tmp_path / "structure.defattr").read_text().splitlines() if x.startswith("\t")]
    assert data == ["\t/A:101\t-2.25", "\t/A:113A\t1"]
    assert np.isclose(float((tmp_path / "structure.pml").read_text().split("maximum=")[1].split()[0]), 2.25)


def test_a_homolog_below_the_identity_threshold_is_rejected(tmp_path):
    # every other residue swapped for a similar one (K->R, I->V, ...): all 22 align, 50% identical
    similar = {"M": "L", "K": "R", "T": "S", "A": "S", "Y": "F", "I": "V", "Q": "E", "R": "K",
               "S": "T", "F": "Y", "V": "I", "H": "N"}
    residues = [(p, p, " ", THREE[similar[c]] if p % 2 else THREE[c]) for p, c in enumerate(SEQ, 1)]
    path = tmp_path / "homolog.pdb"
    path.write_text(_pdb_text({"A": residues}))
    with pytest.raises(InputError, match=r"homolog\.pdb: record 'tiny_2': chain 'A' does not align "
                                         r"to the sequence: 22 of its 22 residues aligned, 50% identical"):
        check_structures({"tiny_2": {"path": str(path), "chain": "A"}}, [PROT])


def test_point_mutation_microheterogeneity_gets_the_score_on_both_residues(tmp_path):
    # residue 103 (position 5, Y) modelled twice, altloc A TYR and altloc B PHE
    text = _pdb_text({"A": CHAIN_A}).splitlines()
    row = next(i for i, line in enumerate(text) if line[17:26] == "TYR A 103")
    extra = [line[:16] + "B" + "PHE" + line[20:] for line in text[row:row + 3]]
    text[row:row + 3] = [line[:16] + "A" + line[17:] for line in text[row:row + 3]]
    text[row + 3:row + 3] = extra
    path = tmp_path / "micro.pdb"
    path.write_text("\n".join(text) + "\n")
    write_outputs(StructureSpec("tiny_2", str(path)), PROT, POSITIONS, tmp_path / "out")
    lines = (tmp_path / "out" / "structure.pdb").read_text().splitlines()
    res103 = [line for line in lines if line.startswith("ATOM") and line[21:26] == "A 103"]
    assert {line[17:20] for line in res103} == {"TYR", "PHE"}
    assert {float(line[60:66]) for line in res103} == {5 / 4 - 3}


def test_pymol_escapes_negative_residue_numbers():
    from Bio.PDB.Residue import Residue

    from esm1v_scan.inputs.structures import ChainMap
    from esm1v_scan.outputs.structure_files import pml_text

    res = [Residue((" ", n, " "), "ALA", " ") for n in (-1, 0, 1)]
    cm = ChainMap("A", [(1, res[0]), (2, res[1]), (3, res[2])], 3, 3, 3)
    pml = pml_text("structure.pdb", cm, {1: -1.0, 2: 0.5, 3: 2.0})
    assert "(esm1v and chain A and resi \\-1+0+1)" in pml
    assert "minimum=-2, maximum=2" in pml


def test_selenomethionine_maps_as_methionine(tmp_path):
    # SeMet crystals: HETATM MSE stands for M and maps as identical
    residues = [(p, p, " ", "MSE" if c == "M" else THREE[c]) for p, c in enumerate(SEQ, 1)]
    text = _pdb_text({"A": residues})
    text = "\n".join(("HETATM" + line[6:]) if line[17:20] == "MSE" else line
                     for line in text.splitlines()) + "\n"
    path = tmp_path / "semet.pdb"
    path.write_text(text)
    write_outputs(StructureSpec("tiny_2", str(path)), PROT, POSITIONS, tmp_path / "out")
    m = pd.read_csv(tmp_path / "out" / "structure_map.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert m.iloc[0].tolist() == ["1", "A", "1", "", "MSE", "identical"]
    assert set(m.match) == {"identical"}
    s = PDBParser(QUIET=True).get_structure("x", str(tmp_path / "out" / "structure.pdb"))
    mse = s[0]["A"][("H_MSE", 1, " ")]
    assert {a.get_bfactor() for a in mse} == {1 / 4 - 3}


def test_passed_checks_are_cached_until_the_file_changes(pdb_file, tmp_path, monkeypatch):
    import esm1v_scan.inputs.structures as st

    cache = tmp_path / "checks.json"
    first = check_structures({"tiny_2": str(pdb_file)}, [PROT], cache)
    assert first["tiny_2"].chain == "A" and cache.exists()
    reads = []
    real = st.read_structure
    monkeypatch.setattr(st, "read_structure", lambda path: reads.append(path) or real(path))
    assert check_structures({"tiny_2": str(pdb_file)}, [PROT], cache) == first
    assert reads == []  # answered from the cache
    # a changed file is read again: here chain A no longer aligns
    pdb_file.write_text(_pdb_text({"A": CHAIN_B, "B": CHAIN_A}))
    again = check_structures({"tiny_2": str(pdb_file)}, [PROT], cache)
    assert again["tiny_2"].chain == "B" and len(reads) == 1
    # another sequence under the same id is not answered from the cache either
    with pytest.raises(InputError, match="does not align"):
        check_structures({"tiny_2": {"path": str(pdb_file), "chain": "B"}},
                         [Protein("tiny_2", "tiny_2", "W" * 22)], cache)


# -- expression tags and unresolved termini: only alignment-supported residues are mapped ---------
# ends in SEH, so a C-terminal LEHHHHHH tag over an unresolved tail pairs E/E and H/H by chance
LONG = "MENSALTWVDGRYPQFSIRCEHLGKSVDAWNTQMPEYIKFLRGDHSVANETWQKIPRGLSQH"
N_TAGS = {"none": "", "GSHM": "GSHM", "his": "MGSSHHHHHHSSGLVPRGSH"}
C_TAGS = {"none": "", "LEH6": "LEHHHHHH"}


def _tagged_chain(n_tag, first, last, c_tag, mutant=None):
    """Chain A: n_tag, then LONG's positions first..last numbered as positions, then c_tag.
    ``mutant``: (position, letter) of a point mutation in the crystal."""
    res = [(None, first - len(n_tag) + k, " ", THREE[a]) for k, a in enumerate(n_tag)]
    for p in range(first, last + 1):
        letter = mutant[1] if mutant and p == mutant[0] else LONG[p - 1]
        res.append((p, p, " ", THREE[letter]))
    res += [(None, last + 1 + k, " ", THREE[a]) for k, a in enumerate(c_tag)]
    return res


def _check_outputs_agree(out, residues, positions, expect_mapped, mismatch=()):
    """structure_map.tsv, the B-factors and the attribute file say the same: each residue in
    expect_mapped (structure number -> position) carries that position's score, every other one
    0 and 'unaligned'/'missing'."""
    score = dict(zip(positions.position, positions.mean_score))
    m = pd.read_csv(out / "structure_map.tsv", sep="\t", keep_default_na=False, dtype=str)
    mapped = {int(r.resnum): int(r.position) for r in m.itertuples() if r.position and r.resnum}
    assert mapped == expect_mapped
    assert {int(r.position) for r in m.itertuples() if r.match == "mismatch"} == set(mismatch)
    assert {int(r.position) for r in m.itertuples() if r.match == "missing"} == \
        set(range(1, len(LONG) + 1)) - set(expect_mapped.values())
    unaligned = {int(r.resnum) for r in m.itertuples() if r.match == "unaligned"}
    assert unaligned == {num for _, num, _, _ in residues} - set(expect_mapped)
    s = PDBParser(QUIET=True).get_structure("x", str(out / "structure.pdb"))
    b = {num: v for (num, _), v in _bfactors(s, "A").items()}
    assert b == {num: {score[expect_mapped[num]] if num in expect_mapped else 0.0}
                 for _, num, _, _ in residues}
    attrs = {int(line.split("\t")[1][3:]): float(line.split("\t")[2])
             for line in (out / "structure.defattr").read_text().splitlines()
             if line.startswith("\t")}
    assert attrs == {num: score[p] for num, p in expect_mapped.items()}


LONG_POSITIONS = pd.DataFrame({"position": range(1, len(LONG) + 1),
                               "mean_score": [-(p % 16) / 4 - 0.25 for p in range(1, len(LONG) + 1)]})


@pytest.mark.parametrize("c_tag", C_TAGS)
@pytest.mark.parametrize("n_tag", N_TAGS)
@pytest.mark.parametrize("first, last", [(1, len(LONG)), (3, len(LONG) - 3), (6, len(LONG) - 1)],
                         ids=["all-resolved", "ends-unresolved", "more-unresolved"])
def test_tags_are_never_mapped_onto_the_sequence(tmp_path, n_tag, c_tag, first, last):
    residues = _tagged_chain(N_TAGS[n_tag], first, last, C_TAGS[c_tag], mutant=(30, "F"))
    path = tmp_path / "tagged.pdb"
    path.write_text(_pdb_text({"A": residues}))
    prot = Protein("long", "long", LONG)
    warnings = write_outputs(StructureSpec("long", str(path)), prot, LONG_POSITIONS, tmp_path / "out")
    # the point mutant W30F inside an identical stretch: mapped, marked, warned about
    assert warnings == [f"{path}: chain A differs from the sequence at W30 -> A 30 PHE"]
    _check_outputs_agree(tmp_path / "out", residues, LONG_POSITIONS,
                         {p: p for p in range(first, last + 1)}, mismatch=[30])


def test_point_mutants_near_the_ends(tmp_path):
    # behind a GSHM tag: E2D (between the identical M1 and N3) stays mapped as a mismatch; a
    # mutant as the last resolved residue (H62Y) has nothing after it to support it: not mapped
    residues = _tagged_chain("GSHM", 1, len(LONG), "", mutant=(2, "D"))
    residues[-1] = (None, len(LONG), " ", "TYR")
    path = tmp_path / "ends.pdb"
    path.write_text(_pdb_text({"A": residues}))
    warnings = write_outputs(StructureSpec("long", str(path)), Protein("long", "long", LONG),
                             LONG_POSITIONS, tmp_path / "out")
    assert warnings == [f"{path}: chain A differs from the sequence at E2 -> A 2 ASP"]
    _check_outputs_agree(tmp_path / "out", residues, LONG_POSITIONS,
                         {p: p for p in range(1, len(LONG))}, mismatch=[2])


def test_supported_columns_rule():
    from esm1v_scan.inputs.structures import supported

    def run(pattern):
        """pattern: I identical pair, X mismatch, + chain residue without position, - position
        without residue; returns the pattern with the cut pairs as lower case."""
        columns, same = [], {}
        for k, c in enumerate(pattern):
            columns.append((None if c == "+" else k, None if c == "-" else k))
            if c in "IX":
                same[k] = c == "I"
        keep = supported(columns, same)
        return "".join(c.lower() if k in same and k not in keep else c for k, c in enumerate(pattern))

    assert run("XXIIIXIII") == "xxIIIXIII"  # end mismatches cut; a flanked mutant kept
    assert run("XXXIXIIIIXX") == "xxxixIIIIxx"  # a lone identity does not anchor a tag
    assert run("IXIII") == "IXIII"  # an identity before a mutant at the start: both kept
    assert run("IIIII++I") == "IIIII++i"  # one identity reached through an inserted gap: cut
    assert run("IIIII--I") == "IIIII--I"  # after an unresolved stretch: its own stretch, kept
    assert run("XIX--IIXIII") == "xix--IIXIII"  # each stretch between unresolved positions alone
    assert run("IIIXXI") == "IIIxxi"  # two mismatches, then one identity at the very end: cut
    assert run("XXXX") == "xxxx"


# -- gzip-compressed structures, as RCSB serves them ------------------------------------------------
def _gzip(path, text):
    import gzip

    path.write_bytes(gzip.compress(text.encode(), mtime=0))
    return path


def _cif_text(pdb_file, tmp_path):
    from Bio.PDB import MMCIFIO

    cif = tmp_path / "plain.cif"
    writer = MMCIFIO()
    writer.set_structure(PDBParser(QUIET=True).get_structure("x", str(pdb_file)))
    writer.save(str(cif))
    return cif.read_text()


def test_gzipped_pdb_and_mmcif_are_read_and_written_uncompressed(pdb_file, tmp_path, monkeypatch):
    import esm1v_scan.inputs.structures as st

    pdb_gz = _gzip(tmp_path / "1abc.pdb.gz", pdb_file.read_text())
    cif_gz = _gzip(tmp_path / "1abc.cif.gz", _cif_text(pdb_file, tmp_path))
    ent_gz = _gzip(tmp_path / "pdb1abc.ent.gz", pdb_file.read_text())  # the PDB archive's name
    assert [output_name(p) for p in (pdb_gz, cif_gz, ent_gz, "x.mmCIF.GZ")] == \
        ["structure.pdb", "structure.cif", "structure.pdb", "structure.cif"]
    # the parse-time check (config structures), then answered from its cache
    cache = tmp_path / "checks.json"
    config = {"tiny_2": str(pdb_gz), "other": {"path": str(cif_gz), "chain": "A"}}
    prots = [PROT, Protein("other", "other", SEQ)]
    checked = check_structures(config, prots, cache)
    assert checked == {"tiny_2": StructureSpec("tiny_2", str(pdb_gz), "A"),
                       "other": StructureSpec("other", str(cif_gz), "A")}
    reads = []
    real = st.read_structure
    monkeypatch.setattr(st, "read_structure", lambda path: reads.append(path) or real(path))
    assert check_structures(config, prots, cache) == checked and reads == []
    _gzip(pdb_gz, _pdb_text({"B": CHAIN_A}))  # a new download: checked again, chain B now
    assert check_structures(config, prots, cache)["tiny_2"].chain == "B" and reads == [str(pdb_gz)]
    _gzip(pdb_gz, pdb_file.read_text())
    # outputs: plain structure.pdb / structure.cif with the scores as B-factors
    for src, name, parser in ((pdb_gz, "structure.pdb", PDBParser), (cif_gz, "structure.cif", MMCIFParser)):
        out = tmp_path / name
        write_outputs(StructureSpec("tiny_2", str(src), "A"), PROT, POSITIONS, out)
        assert sorted(f.name for f in out.iterdir()) == sorted(
            [name, "structure.defattr", "structure.pml", "structure_map.tsv"])
        assert (out / name).read_bytes()[:2] != b"\x1f\x8b"
        b = _bfactors(parser(QUIET=True).get_structure("x", str(out / name)), "A")
        assert all(b[key] == {value} for key, value in EXPECTED_B.items())
        assert f"load {name}, esm1v" in (out / "structure.pml").read_text()


def test_damaged_gzip_and_binary_structures_are_one_line(pdb_file, tmp_path):
    import gzip

    cut = tmp_path / "cut.pdb.gz"
    cut.write_bytes(gzip.compress(pdb_file.read_bytes())[:200])
    with pytest.raises(InputError, match=r"cut\.pdb\.gz: cannot read the structure: "
                                         r"a damaged or truncated gzip file \(Compressed file ended"):
        check_structures({"tiny_2": str(cut)}, [PROT])
    zipped = tmp_path / "1abc.cif"
    zipped.write_bytes(b"PK\x03\x04" + bytes(100))
    with pytest.raises(InputError, match=r"1abc\.cif: cannot read the structure: "
                                         r"this looks like a zip archive \(unzip it first\)"):
        check_structures({"tiny_2": str(zipped)}, [PROT])


# -- the structure file says what its B-factors are ------------------------------------------------
def test_structure_header_says_what_the_bfactors_are(pdb_file, tmp_path):
    from Bio.PDB import MMCIFIO
    from Bio.PDB.MMCIF2Dict import MMCIF2Dict

    from esm1v_scan import __version__
    from esm1v_scan.outputs.provenance import RANDOM_STAMP

    models = [f"esm1v_t33_650M_UR90S_{k}" for k in (2, 1)]
    write_outputs(StructureSpec("tiny_2", str(pdb_file)), PROT, POSITIONS, tmp_path / "pdb",
                  RANDOM_STAMP, models)
    lines = (tmp_path / "pdb" / "structure.pdb").read_text().splitlines()
    remarks = [line for line in lines if line.startswith("REMARK")]
    assert lines[:len(remarks)] == remarks  # the header first, then the atoms
    assert all(line.startswith("REMARK   6 ") and len(line) <= 80 for line in remarks)
    text = " ".join(line[11:] for line in remarks)
    assert text.startswith("RANDOM WEIGHTS - NOT ESM-1V: these scores come from checkpoints that "
                           "are not ESM-1v's B-factors: esm1v-scan's mean_score of each residue, "
                           "the mean over the 19 substitutions of score_mean, the ensemble score "
                           "(the mean over 2 models of log p(mutant) - log p(wild type)")
    assert "Weights: random weights - not ESM-1v." in text
    assert "Models: esm1v_t33_650M_UR90S_1, esm1v_t33_650M_UR90S_2." in text
    assert f"Written by esm1v-scan {__version__};" in text
    # Biopython still reads it: the same B-factors as without the header
    b = _bfactors(PDBParser(QUIET=True).get_structure("x", str(tmp_path / "pdb" / "structure.pdb")), "A")
    assert all(b[key] == {value} for key, value in EXPECTED_B.items())

    cif = tmp_path / "model.cif"
    writer = MMCIFIO()
    writer.set_structure(PDBParser(QUIET=True).get_structure("x", str(pdb_file)))
    writer.save(str(cif))
    five = [f"esm1v_t33_650M_UR90S_{k}" for k in range(1, 6)]
    write_outputs(StructureSpec("tiny_2", str(cif), "A"), PROT, POSITIONS, tmp_path / "cif", "", five)
    out = tmp_path / "cif" / "structure.cif"
    lines = out.read_text().splitlines()
    assert lines[0] == "data_esm1v" and lines[1].startswith("# B-factors: esm1v-scan's mean_score")
    remark = MMCIF2Dict(str(out))
    assert remark["_database_PDB_remark.id"] == ["6"]
    text = " ".join(remark["_database_PDB_remark.text"][0].split())
    assert "the mean over 5 models of log p(mutant) - log p(wild type)" in text
    assert "Weights: ESM-1v." in text and "RANDOM" not in out.read_text()
    assert f"Models: {', '.join(five)}." in text and f"esm1v-scan {__version__}" in text
    b = _bfactors(MMCIFParser(QUIET=True).get_structure("y", str(out)), "A")
    assert all(b[key] == {value} for key, value in EXPECTED_B.items())
