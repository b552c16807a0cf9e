"""End to end: config structures -> results/{name}/structure.pdb|cif, .defattr, .pml and
structure_map.tsv, and the landing summary (tiny random models)."""
import gzip
import zipfile

import pandas as pd
import pytest
from Bio.PDB import MMCIFIO, MMCIFParser, PDBParser

from conftest import run_workflow, write_fasta
from test_report import check_report_zip
from test_structures import CHAIN_A, CHAIN_B, SEQ, TAG, _pdb_text

pytestmark = pytest.mark.slow

OTHER = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEG"


@pytest.fixture
def inputs(tmp_path, base_config):
    """tiny_2 with a PDB (chain A numbered from 101, a missing loop, an insertion code, a point
    mutant F19A, a His tag; chain B unrelated) and ubq with its own chain as gzipped mmCIF."""
    fasta = write_fasta(tmp_path / "in.fasta", {"tiny_2 a small test protein": SEQ, "ubq": OTHER})
    pdb = tmp_path / "tiny_2.pdb"
    pdb.write_text(_pdb_text({"A": CHAIN_A + TAG, "B": CHAIN_B}))
    # ubq: its own first 22 residues as a chain C numbered 1.. (residues 23-35 not observed)
    ubq_pdb = tmp_path / "ubq.pdb"
    ubq_pdb.write_text(_pdb_text({"C": [(None, k + 1, " ", _three(a)) for k, a in enumerate(OTHER[:22])]}))
    plain = tmp_path / "ubq.cif"
    io = MMCIFIO()
    io.set_structure(PDBParser(QUIET=True).get_structure("u", str(ubq_pdb)))
    io.save(str(plain))
    cif = tmp_path / "ubq.cif.gz"  # gzipped, as RCSB serves it
    cif.write_bytes(gzip.compress(plain.read_bytes()))
    plain.unlink()
    config = {**base_config, "models": base_config["models"][:2], "sequences": str(fasta),
              "structures": {"tiny_2": {"path": str(pdb), "chain": "A"}, "ubq": str(cif)},
              "offsets": {"tiny_2": 10}}
    return config, pdb, cif


def _three(letter):
    from test_structures import THREE
    return THREE[letter]


def _bfactors(structure, chain):
    return {(r.id[1], r.id[2]): {round(a.get_bfactor(), 2) for a in r}
            for r in structure[0][chain]}


def test_scores_on_structures_and_summary(tmp_path, inputs):
    config, pdb, cif = inputs
    run_workflow(tmp_path / "run", config)
    res = tmp_path / "run" / "results"
    positions = pd.read_csv(res / "tiny_2/positions.tsv", sep="\t").set_index("position")
    assert list(positions["residue"]) == [p + 9 for p in positions.index]  # offsets: 10
    out = PDBParser(QUIET=True).get_structure("o", str(res / "tiny_2/structure.pdb"))
    got = _bfactors(out, "A")
    mapped = {(num, icode): p for p, num, icode, _ in CHAIN_A}
    for key, p in mapped.items():  # 101..108, 113, 113A, 114..., the mutant F19A included
        assert got[key] == {round(float(positions.loc[p, "mean_score"]), 2)}, (key, p)
    assert all(got[(120 + k, " ")] == {0.0} for k in range(6))  # the tag: not in the sequence
    assert all(v == {0.0} for v in _bfactors(out, "B").values())  # another chain
    assert len({v for key in mapped for v in got[key]}) > 5  # real, varied scores
    # the map: positions 1-2 and 11-14 missing, 19 a mismatch, the tag unaligned
    smap = pd.read_csv(res / "tiny_2/structure_map.tsv", sep="\t", keep_default_na=False)
    by_pos = {int(r.position): r for r in smap.itertuples() if r.position != ""}
    assert [p for p, r in by_pos.items() if r.match == "missing"] == [1, 2, 11, 12, 13, 14]
    assert by_pos[19].match == "mismatch" and by_pos[19].resname == "ALA"
    assert (int(by_pos[16].resnum), by_pos[16].icode) == (113, "A")
    assert (smap["match"] == "unaligned").sum() == 6
    # ChimeraX attribute file: the same values, in the structure's numbering
    attrs = {}
    for line in (res / "tiny_2/structure.defattr").read_text().splitlines():
        if line.startswith("\t/A:"):
            spec, value = line.strip().split("\t")
            attrs[spec[3:]] = float(value)
    assert attrs["113A"] == pytest.approx(positions.loc[16, "mean_score"], abs=1e-5)
    assert attrs["101"] == pytest.approx(positions.loc[3, "mean_score"], abs=1e-5)
    assert len(attrs) == len(mapped)
    pml = (res / "tiny_2/structure.pml").read_text()
    assert "load structure.pdb, esm1v" in pml and "RANDOM WEIGHTS" in pml
    # the header says what the B-factors are, from the scoring jobs' provenance
    remarks = " ".join(line[11:] for line in (res / "tiny_2/structure.pdb").read_text().splitlines()
                       if line.startswith("REMARK   6 "))
    assert remarks.startswith("RANDOM WEIGHTS - NOT ESM-1V")
    assert "Weights: random weights - not ESM-1v." in remarks and "mean over 2 models" in remarks
    assert f"Models: {', '.join(sorted(config['models']))}." in remarks
    # gzipped mmCIF in, plain mmCIF out (the best chain found without a chain in the config)
    cif_text = (res / "ubq/structure.cif").read_text()
    assert cif_text.startswith("data_") and "Weights: random weights - not ESM-1v." in cif_text
    cif_out = MMCIFParser(QUIET=True).get_structure("c", str(res / "ubq/structure.cif"))
    ubq = pd.read_csv(res / "ubq/positions.tsv", sep="\t").set_index("position")
    for k, r in enumerate(cif_out[0]["C"]):
        assert {round(a.get_bfactor(), 2) for a in r} == {round(float(ubq.loc[k + 1, "mean_score"]), 2)}
    assert not (res / "ubq/structure.pdb").exists() and not (res / "tiny_2/structure.cif").exists()

    # the landing summary, one row per protein in FASTA order, from the same scores
    summary = pd.read_csv(res / "summary.tsv", sep="\t", keep_default_na=False)
    assert list(summary["name"]) == ["tiny_2", "ubq"]
    row = summary.iloc[0]
    assert row["description"] == "a small test protein" and row["length"] == len(SEQ)
    assert row["mean_score"] == pytest.approx(positions["mean_score"].mean(), abs=1e-5)
    assert row["n_positions"] == len(SEQ) and row["n_variants"] == 0 and row["spearman"] == ""
    page = (res / "summary.html").read_text()
    for f in ("tiny_2/heatmap.png", "tiny_2/heatmap.html", "tiny_2/structure.pdb",
              "ubq/structure.cif", "ubq/matrix.tsv"):
        assert f'href="{f}"' in page and (res / f).is_file()
    assert "random weights - not ESM-1v" in page

    # the report: the summary first, its caption linking each protein's items; every link of
    # every page leads inside the report (tests/test_report.py), structure files included
    rep = run_workflow(tmp_path / "run", config, "--report", "report.zip")
    assert "ERROR" not in rep.stderr, rep.stderr[-2000:]  # docutils errors in captions
    assert "WARNING" not in rep.stderr, rep.stderr[-2000:]
    with zipfile.ZipFile(tmp_path / "run" / "report.zip") as z:
        names = z.namelist()
        html = z.read(next(n for n in names if n.endswith("report.html"))).decode()
    assert any(n.endswith("/summary.tsv") for n in names)
    for f in ("structure_map.tsv", "structure.pdb", "structure.cif", "structure.pml",
              "structure.defattr"):
        assert any(n.endswith(f"/{f}") for n in names), f
    assert '"1. Summary"' in html or "1. Summary" in html
    for name in ("tiny_2", "ubq"):
        for fig in ("overview.html", "heatmap_view.html", "heatmap.html"):
            assert f"showResultInfo('results/{name}/{fig}')" in html, (name, fig)
    results = check_report_zip(tmp_path / "run" / "report.zip", tmp_path, ["tiny_2", "ubq"])
    assert results["results/tiny_2/structure.pdb"]["mime_type"] == "chemical/x-pdb"
    assert results["results/ubq/structure.cif"]["mime_type"] == "chemical/x-cif"
    assert results["results/ubq/structure.pml"]["mime_type"] == "text/plain"
    top = pd.read_csv(res / "tiny_2/top_mutations.tsv", sep="\t")
    ens = pd.read_csv(res / "tiny_2/ensemble.tsv", sep="\t")
    subs = ens[ens["wt"] != ens["mt"]].sort_values("score_mean", ascending=False)
    assert list(top["mutant"]) == list(subs["mutant"][:20]) and list(top["n_models"]) == [2] * 20

    # a rerun does nothing; an edited structure file redoes that protein's structure only
    again = run_workflow(tmp_path / "run", config, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr
    pdb.write_text(pdb.read_text().replace(" 35.50", " 36.50", 1))
    redo = run_workflow(tmp_path / "run", config, "-n", "--quiet", "rules")
    stats = redo.stdout.split("Job stats:")[1].split("-------\n")[1].split("total")[0]
    assert [line.split()[0] for line in stats.strip().splitlines()] == ["structure_pdb", "default"]


@pytest.mark.parametrize("problem, expected", [
    ("chain", "chain 'Z' not found (protein chains: A, B)"),
    ("unreadable", "cannot read the structure"),
    ("missing", "structure file not found"),
    ("unrelated", "chain 'B' does not align to the sequence"),
])
def test_bad_structure_is_one_line_before_any_job(tmp_path, inputs, problem, expected):
    config, pdb, _ = inputs
    entry = {"chain": {"path": str(pdb), "chain": "Z"},
             "unreadable": str(tmp_path / "bad.cif"),
             "missing": str(tmp_path / "nowhere.pdb"),
             "unrelated": {"path": str(pdb), "chain": "B"}}[problem]
    (tmp_path / "bad.cif").write_text("data_x\n_atom_site.id 1\nnot a cif loop\n")
    config = {**config, "structures": {"tiny_2": entry}}
    proc = run_workflow(tmp_path / "run", config, check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "esm1v-scan:" in line]
    assert len(lines) == 1 and expected in lines[0], proc.stderr[-2000:]
    where = str(pdb) if problem in ("chain", "unrelated") else entry
    assert where in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "results").exists()
