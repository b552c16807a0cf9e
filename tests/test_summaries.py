"""Config offsets, residue/mutant columns, matrix.tsv and positions.tsv."""

import math

import numpy as np
import pandas as pd
import pytest

from esm1v_scan.scoring.ensemble import ensemble
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import AMINO_ACIDS, Protein
from esm1v_scan.outputs.protein_tables import add_residue_columns, matrix_table, positions_table
from esm1v_scan.inputs.numbering import numbering, offset_for, offsets_from_config
from esm1v_scan.scoring.score_tables import score_table
from esm1v_scan.inputs.variant_lists import read_variants, specs_from_config

SEQ = "MHTAYIAK"
PROTS = [Protein("seq1", "seq1", SEQ), Protein("seq2", "seq2", "MKV")]


def _ens(positions=(1, 2, 5), seed=1):
    rng = np.random.default_rng(seed)
    tables = {}
    for m in ("m1", "m2"):
        logits = rng.normal(size=(len(positions), 33))
        lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        tables[m] = score_table(SEQ, list(positions), lp[:, :20])
    return ensemble(tables)


def test_offsets_config_and_errors():
    assert offsets_from_config({"seq1": 23}, PROTS) == {"seq1": 23}
    assert offsets_from_config(None, PROTS) == {}
    assert offset_for({"seq1": 23}, "seq1") == 23 and offset_for({"seq1": 23}, "seq2") == 1
    with pytest.raises(InputError, match=r"^config 'offsets': offset given for 'seqX', which is not "
                                         r"an id in in\.fasta \(ids: seq1, seq2\)$"):
        offsets_from_config({"seqX": 3}, PROTS, "in.fasta")
    with pytest.raises(InputError, match="offset for 'seq1' must be an integer, got '3a'"):
        offsets_from_config({"seq1": "3a"}, PROTS)


def test_variant_offset_defaults_to_the_sequence_offset(tmp_path):
    # H2 of SEQ is residue 24 with offset 23
    path = tmp_path / "v.csv"
    path.write_text("mutant\nH24C\nY27A\n")
    specs = specs_from_config({"seq1": str(path)}, PROTS, offsets={"seq1": 23})
    assert specs["seq1"].offset == 23
    assert read_variants(specs["seq1"], PROTS[0]).positions == [2, 5]
    # the list's own offset, equal to the sequence's; no offsets: 1
    assert specs_from_config({"seq1": {"path": str(path), "offset": 23}}, PROTS,
                             offsets={"seq1": 23})["seq1"].offset == 23
    assert specs_from_config({"seq1": str(path)}, PROTS)["seq1"].offset == 1
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(f"id,path,offset\nseq1,{path},\n")
    assert specs_from_config(str(sheet), PROTS, offsets={"seq1": 23})["seq1"].offset == 23


def test_a_variant_lists_offset_numbers_its_protein_everywhere(tmp_path):
    """One protein, one numbering: a list's offset without config offsets numbers the protein's
    tables too (variants.tsv said H24C while ensemble/matrix/positions said H1C)."""
    path = tmp_path / "v.csv"
    path.write_text("mutant\nH24C\nY27A\n")
    specs = specs_from_config({"seq1": {"path": str(path), "offset": 23}}, PROTS)
    offsets = numbering({}, specs)
    assert offsets == {"seq1": 23}
    ens = _ens()
    vl = read_variants(specs["seq1"], PROTS[0])
    listed = {str(m) for row in vl.mutations for m in row}
    table = add_residue_columns(ens, offset_for(offsets, "seq1"))
    assert listed <= set(table.mutant) and "H24C" in set(table.mutant)
    assert matrix_table(ens, offset_for(offsets, "seq1")).residue.tolist() == [23, 24, 27]
    assert positions_table(ens, offset_for(offsets, "seq1")).residue.tolist() == [23, 24, 27]
    # config offsets is kept; a list with the default numbering adds nothing; seq2 stays at 1
    assert numbering({"seq2": 7}, specs) == {"seq2": 7, "seq1": 23}
    assert numbering({}, specs_from_config({"seq1": str(path)}, PROTS)) == {}
    assert numbering({"seq1": 23}, specs_from_config({"seq1": str(path)}, PROTS,
                                                     offsets={"seq1": 23})) == {"seq1": 23}


def test_two_numberings_for_one_protein_is_one_line_error(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text("mutant\nH24C\n")
    with pytest.raises(InputError) as err:
        specs_from_config({"seq1": {"path": str(path), "offset": 23}}, PROTS, "in.fasta",
                          offsets={"seq1": 1})
    assert str(err.value) == (
        "config 'variants': two numberings for 'seq1': its variant list's offset is 23, config "
        "'offsets' gives 1; a protein has one numbering (its tables, figures and list): give the "
        "same number in both, or only one of them")
    # a samples sheet is named as the list's source
    sheet = tmp_path / "sheet.tsv"
    sheet.write_text(f"id\tpath\toffset\nseq1\t{path}\t-4\n")
    with pytest.raises(InputError, match=r"^.*sheet\.tsv: two numberings for 'seq1': its variant "
                                         r"list's offset is -4, config 'offsets' gives 23; "):
        specs_from_config(str(sheet), PROTS, offsets={"seq1": 23})


def test_residue_and_mutant_columns():
    ens = _ens()
    out = add_residue_columns(ens, offset=23)
    assert list(out.columns[:5]) == ["position", "residue", "wt", "mt", "mutant"]
    assert list(out.columns[5:]) == list(ens.columns[3:])
    row = out[(out.position == 2) & (out.mt == "C")].iloc[0]
    assert (row.residue, row.mutant) == (24, "H24C")
    assert out[out.position == 5].residue.unique().tolist() == [27]
    assert add_residue_columns(ens).mutant.iloc[0] == "M1A"


def test_matrix_is_the_pivot_of_the_long_table():
    ens = _ens()
    m = matrix_table(ens, offset=10)
    assert list(m.columns) == ["position", "residue", "wt"] + list(AMINO_ACIDS)
    assert m.position.tolist() == [1, 2, 5] and m.residue.tolist() == [10, 11, 14]
    assert m.wt.tolist() == ["M", "H", "Y"]
    for _, r in ens.iterrows():
        got = m.loc[m.position == r.position, r.mt].iloc[0]
        assert got == r.score_mean
    assert m.loc[m.position == 2, "H"].iloc[0] == 0.0  # wild type


def test_positions_summary_excludes_wt_and_entropy_by_hand():
    ens = _ens()
    p = positions_table(ens, offset=23)
    assert list(p.columns) == ["position", "residue", "wt", "mean_score", "min_score", "max_score",
                               "entropy", "n_models"]
    for pos in (1, 2, 5):
        rows = ens[ens.position == pos]
        subs = [r.score_mean for r in rows.itertuples() if r.mt != r.wt]
        assert len(subs) == 19
        got = p[p.position == pos].iloc[0]
        assert got.residue == pos + 22
        assert got.mean_score == pytest.approx(sum(subs) / 19, rel=1e-12)
        assert got.min_score == min(subs) and got.max_score == max(subs)
        total = sum(rows.prob_mean)
        h = -sum(q / total * math.log(q / total) for q in rows.prob_mean)
        assert got.entropy == pytest.approx(h, rel=1e-12)
        assert got.n_models == 2


def test_entropy_of_a_known_distribution():
    # uniform over 4 amino acids (renormalised from 0.1 each): log 4 nats; mean excludes wt A
    ens = pd.DataFrame({"position": 1, "wt": "A", "mt": list(AMINO_ACIDS),
                        "prob_mean": [0.1] * 4 + [0.0] * 16,
                        "score_mean": [0.0] + [-1.0] * 18 + [-20.0], "n_models": 5})
    got = positions_table(ens).iloc[0]
    assert got.entropy == pytest.approx(math.log(4))
    assert got.mean_score == pytest.approx(-38 / 19)
    assert (got.min_score, got.max_score) == (-20.0, -1.0)
