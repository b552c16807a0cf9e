"""Config and input errors are one line naming the key (or file) and the fix, before any job."""

import subprocess
import sys

import pytest
import torch
import yaml

from conftest import MODELS, REPO, run_workflow
from esm1v_scan.inputs.config_checks import check_config_file, check_device, check_long_windows, validate
from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.scoring.models import load_model
from esm1v_scan.inputs.variant_lists import VariantSpec, read_variants

SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
DEFAULTS = yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def error_of(config):
    with pytest.raises(InputError) as err:
        validate(config, SCHEMA)
    return str(err.value)


def test_unknown_key_is_one_line_naming_the_nearest_valid_key():
    msg = error_of({**DEFAULTS, "devcie": "cuda"})
    assert msg == "unknown config key 'devcie'; did you mean 'device'?"
    msg = error_of({**DEFAULTS, "max_residue": 500})
    assert msg == "unknown config key 'max_residue'; did you mean 'max_residues'?"


def test_unknown_nested_key_names_its_path():
    biolm = {**DEFAULTS.get("biolm", {}), "endpont": "all"}
    msg = error_of({**DEFAULTS, "biolm": biolm})
    assert msg == "unknown config key 'biolm.endpont'; did you mean 'endpoint'?"


def test_unknown_key_far_from_every_key_lists_the_valid_ones():
    msg = error_of({**DEFAULTS, "zzzzqqq": 1})
    assert msg.startswith("unknown config key 'zzzzqqq'; valid keys: sequences, models,")
    assert "\n" not in msg


def test_bad_value_is_one_line_naming_the_key():
    assert error_of({**DEFAULTS, "device": "gpu"}) == (
        "config key 'device': 'gpu' is not one of ['auto', 'cpu', 'cuda']")
    msg = error_of({**DEFAULTS, "max_residues": 5000})
    assert msg == "config key 'max_residues': 5000 is greater than the maximum of 1022"
    msg = error_of({**DEFAULTS, "models": ["esm1v_t33_650M_UR90S_9"]})
    assert msg.startswith("config key 'models.0': 'esm1v_t33_650M_UR90S_9' is not one of")
    assert "\n" not in msg and len(msg) < 300


def test_valid_config_gets_its_defaults():
    config = {"device": "cpu"}
    validate(config, SCHEMA)
    assert config["device"] == "cpu" and config["max_residues"] == 1022
    assert config["precision"] == "fp32" and config["strategy"] == "masked-marginals"


def test_offsets_are_the_default_offset_of_a_validated_variant_list():
    """The schema must not fill a variant list's offset: config offsets gives its default (a
    schema default of 1 overrode it)."""
    from esm1v_scan.inputs.variant_lists import specs_from_config

    config = {"variants": {"a": {"path": "a.csv"}, "b": {"path": "b.csv", "offset": 5},
                           "c": "c.csv"},
              "offsets": {"a": 24, "c": 7}}
    validate(config, SCHEMA)
    proteins = [Protein(i, i, "MKV") for i in "abc"]
    specs = specs_from_config(config["variants"], proteins, "in.fasta", config["offsets"])
    assert {k: s.offset for k, s in specs.items()} == {"a": 24, "b": 5, "c": 7}


def test_proteingym_windows_need_the_local_backend_and_masked_marginals():
    config = {"device": "cpu"}
    validate(config, SCHEMA)
    assert config["long_windows"] == "esm1v-scan" and config["bootstrap"] == 1000
    check_long_windows(config)
    for ok in ({"long_windows": "proteingym"},
               {"backend": "biolm", "long_windows": "esm1v-scan"},
               {"strategy": "wt-marginals", "long_windows": "esm1v-scan"}):
        check_long_windows({**config, **ok})
    with pytest.raises(InputError) as err:
        check_long_windows({**config, "backend": "biolm", "long_windows": "proteingym"})
    assert str(err.value) == (
        "config key 'long_windows' is proteingym but backend is biolm: BioLM's API wraps every "
        "item in BOS/EOS, so its windows cannot be ProteinGym's; use backend: local, or "
        "long_windows: esm1v-scan")
    with pytest.raises(InputError, match="^config key 'long_windows' is proteingym but strategy is "
                                         "wt-marginals: ProteinGym's windows are defined for "
                                         "masked-marginals only"):
        check_long_windows({**config, "strategy": "wt-marginals", "long_windows": "proteingym"})
    assert error_of({**DEFAULTS, "long_windows": "optimal"}) == (
        "config key 'long_windows': 'optimal' is not one of ['esm1v-scan', 'proteingym']")


@pytest.mark.slow
def test_workflow_with_biolm_and_proteingym_windows_stops_at_parse_time(base_config, tmp_path):
    wd = tmp_path / "run"
    proc = run_workflow(wd, {**base_config, "backend": "biolm", "long_windows": "proteingym"},
                        check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "esm1v-scan: config key 'long_windows' is proteingym but backend is biolm" in err
    assert "Traceback" not in err and not (wd / "results").exists()


def no_gpu():
    return False


def test_cuda_without_gpu_stops_a_local_run_only():
    with pytest.raises(InputError, match="^config key 'device' is cuda but torch sees no CUDA GPU"):
        check_device({"backend": "local", "device": "cuda"}, jobs_run_here=True, cuda=no_gpu)
    # a SLURM submit host without a GPU submits GPU jobs
    check_device({"backend": "local", "device": "cuda"}, jobs_run_here=False, cuda=no_gpu)
    # auto falls back to the CPU; cpu and the API backend need no GPU
    for config in ({"device": "auto"}, {"device": "cpu"}, {"backend": "biolm", "device": "cuda"}):
        check_device({"backend": "local", **config}, jobs_run_here=True, cuda=no_gpu)
    check_device({"backend": "local", "device": "cuda"}, jobs_run_here=True, cuda=lambda: True)


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_workflow_with_cuda_and_no_gpu_stops_before_any_job(base_config, tmp_path):
    wd = tmp_path / "run"
    proc = run_workflow(wd, {**base_config, "device": "cuda", "models": MODELS[:1]}, check=False)
    assert proc.returncode != 0
    err = proc.stdout + proc.stderr
    assert "esm1v-scan: config key 'device' is cuda but torch sees no CUDA GPU" in err
    assert "Traceback" not in err and not (wd / "results").exists()


def test_truncated_checkpoint_message_ends_with_a_whole_sentence(tiny_dir, tmp_path):
    (tmp_path / "m").mkdir()
    blob = (tiny_dir / f"{MODELS[0]}.pt").read_bytes()
    (tmp_path / "m" / f"{MODELS[0]}.pt").write_bytes(blob[: len(blob) // 3])
    with pytest.raises(InputError) as err:
        load_model(MODELS[0], tmp_path / "m", offline=True)
    msg = str(err.value)
    assert "corrupt, truncated or not an ESM-1v checkpoint" in msg
    assert msg.endswith("failed finding central directory)"), msg


UBQ = Protein("ubq", "ubq", "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG")


def test_tab_separated_file_named_csv_is_recognised(tmp_path):
    path = tmp_path / "dms.csv"
    path.write_text("mutant\tDMS_score\nI3V\t0.5\nK6R\t-1.25\n")
    vl = read_variants(VariantSpec("ubq", str(path), score_column="DMS_score"), UBQ)
    assert vl.positions == [3, 6]
    assert vl.experimental.tolist() == [0.5, -1.25]


def test_unrecognised_separator_message_says_separator(tmp_path):
    path = tmp_path / "dms.csv"
    path.write_text("mutant;DMS_score\nI3V;0.5\n")
    with pytest.raises(InputError) as err:
        read_variants(VariantSpec("ubq", str(path)), UBQ)
    assert str(err.value) == (
        f"{path}: no column 'mutant' (the mutant column; columns found: 'mutant;DMS_score'); "
        "only one column was found: set separator for this file (not comma-separated?) "
        "or mutant_column")


# -- YAML syntax errors in config files: file, line and column ------------------------------------

TAB = "sequences: resources/example.fasta\nmodels:\n  - esm1v_t33_650M_UR90S_1\n\t- esm1v_t33_650M_UR90S_2\n"


@pytest.mark.parametrize("text, expected", [
    (TAB, "line 4 column 1: found character '\\t' that cannot start any token"),
    ("device: cpu\nthreads: [1\n", "line 3 column 1: expected ',' or ']', but got '<stream end>' "
     "(while parsing a flow sequence started at line 2 column 10)"),
    ("device: cpu: gpu\n", "line 1 column 12: mapping values are not allowed here"),
    ('sequences: "my.fasta\n', "line 2 column 1: found unexpected end of stream (while scanning a "
     "quoted scalar started at line 1 column 12)"),
    ("- device\n", "a config file holds key: value pairs at the top level; this one does not"),
    ("", "a config file holds key: value pairs at the top level"),
])
def test_config_file_syntax_error_is_one_line_with_file_line_and_column(tmp_path, text, expected):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        check_config_file(path)
    assert str(err.value).startswith(f"{path}: {expected}")
    assert "\n" not in str(err.value)


def test_config_files_snakemake_reads_pass(tmp_path):
    for text in ('{\n\t"device": "cpu"\n}\n', "device: cpu  # tabs\tin a comment\n",
                 "offsets: {a: 3}\nmodels: !!python/tuple [a, b]\n", (REPO / "config/config.yaml").read_text()):
        (tmp_path / "c.yaml").write_text(text)
        check_config_file(tmp_path / "c.yaml")
    (tmp_path / "latin1.yaml").write_bytes("device: cpu\nsequences: prot\xe9ines.fasta\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.yaml: line 2 column 16: not UTF-8 text \(byte 0xe9\)"):
        check_config_file(tmp_path / "latin1.yaml")


def test_check_command_names_each_bad_file(tmp_path):
    """python -m esm1v_scan.inputs.config_checks FILE...: for --configfile files, which Snakemake reads (and
    rejects without naming them) before the workflow's code runs."""
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text("device: cpu\n")
    bad.write_text(TAB)
    proc = subprocess.run([sys.executable, "-m", "esm1v_scan.inputs.config_checks", str(good), str(bad)],
                          capture_output=True, text=True, cwd=REPO / "workflow")
    assert proc.returncode == 1
    assert proc.stderr == (f"esm1v-scan: {bad}: line 4 column 1: found character '\\t' that "
                           "cannot start any token\n")
    ok = subprocess.run([sys.executable, "-m", "esm1v_scan.inputs.config_checks", str(good)],
                        capture_output=True, text=True, cwd=REPO / "workflow")
    assert ok.returncode == 0 and ok.stderr == ""


def test_workflow_names_the_tab_in_its_config_file(tmp_path):
    """config/config.yaml of the working directory with a tab: one line naming it, its line and
    column, before Snakemake reads it; nothing written."""
    wd = tmp_path / "project"
    (wd / "config").mkdir(parents=True)
    (wd / "config/config.yaml").write_text(TAB)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(wd),
                           "--cores", "1", "-n"], capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if "esm1v-scan:" in line]
    assert lines == ["esm1v-scan: config/config.yaml: line 4 column 1: found character '\\t' that "
                     "cannot start any token"], out[-2000:]
    assert "not valid JSON or YAML" not in out and "Traceback" not in out
    assert not (wd / "results").exists()
