"""esm1v_scan.scoring.tiny_models: the smoke run's checkpoints are written once, then left alone."""

import os

from conftest import MODELS
from esm1v_scan.scoring import models
from esm1v_scan.scoring import tiny_models as tiny


def test_writing_tiny_models_twice_keeps_bytes_and_mtimes(tmp_path):
    paths = tiny.write_tiny_models(tmp_path, MODELS[:2])
    assert paths == [tmp_path / f"{m}.pt" for m in MODELS[:2]]
    past = 1_500_000_000_000_000_000  # 2017: any rewrite would show as a new mtime
    for p in paths:
        os.utime(p, ns=(past, past))
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in paths}
    tiny.write_tiny_models(tmp_path, MODELS[:2])
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in paths}
    assert after == before
    assert all(mtime == past for _, mtime, _ in after.values())
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{m}.pt" for m in MODELS[:2]]  # no temp
    # the kept files are the checkpoints a fresh writer makes, and load as the tiny models
    assert before[paths[1]][0] == tiny.checkpoint_bytes(2)
    assert models.load_model(MODELS[1], tmp_path, offline=True).source == str(paths[1])


def test_a_damaged_or_missing_tiny_model_is_written_again(tmp_path):
    first, second = tiny.write_tiny_models(tmp_path, MODELS[:2])
    good = first.read_bytes()
    first.write_bytes(good[:1000])  # cut short
    second.unlink()
    tiny.write_tiny_models(tmp_path, MODELS[:2])
    assert first.read_bytes() == good
    assert second.read_bytes() == tiny.checkpoint_bytes(2)
    # other architecture asked for: other bytes, so the file is replaced
    tiny.write_tiny_models(tmp_path, MODELS[:1], layers=1)
    assert first.read_bytes() == tiny.checkpoint_bytes(1, layers=1) != good


def test_the_readme_gives_the_makefiles_cores():
    """`make example` and `make smoke` run with the Makefile's CORES; the README says the same."""
    import re

    from conftest import REPO

    cores = re.search(r"^CORES\s*\?=\s*(\d+)$", (REPO / "Makefile").read_text(), re.M).group(1)
    readme = (REPO / "README.md").read_text()
    assert f"takes `CORES={cores}` by default" in readme
    smoke = readme[readme.index("make smoke      # = the two commands below"):]
    smoke = smoke[: smoke.index("```")]
    assert f"CORES={cores} by default" in smoke
    assert re.findall(r"--cores (\d+)", smoke) == [cores]
