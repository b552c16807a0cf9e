"""Config and input errors are one line naming the key (or file) and the fix, before any job."""

import pytest
import torch
import yaml

from conftest import MODELS, REPO, run_workflow
from esm1v_scan.config import check_device, validate
from esm1v_scan.errors import InputError
from esm1v_scan.fasta import Protein
from esm1v_scan.models import load_model
from esm1v_scan.variants import VariantSpec, read_variants

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
    from esm1v_scan.variants import specs_from_config

    config = {"variants": {"a": {"path": "a.csv"}, "b": {"path": "b.csv", "offset": 5},
                           "c": "c.csv"},
              "offsets": {"a": 24, "c": 7}}
    validate(config, SCHEMA)
    proteins = [Protein(i, i, "MKV") for i in "abc"]
    specs = specs_from_config(config["variants"], proteins, "in.fasta", config["offsets"])
    assert {k: s.offset for k, s in specs.items()} == {"a": 24, "b": 5, "c": 7}


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
