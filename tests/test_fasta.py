import pytest

from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import assign_names, read_fasta, safe_name, sequences_table
from conftest import write_fasta


def test_parses_cleans_and_names(tmp_path):
    f = write_fasta(tmp_path / "a.fasta", ">sp|P62593|BLAT_ECOLX beta-lactamase\nmsiqh frvAL\nIPFAA*\n>b\nACDE\n")
    proteins = read_fasta(f)
    assert [p.id for p in proteins] == ["sp|P62593|BLAT_ECOLX", "b"]
    assert proteins[0].sequence == "MSIQHFRVALIPFAA"  # upper-cased, white space and trailing * gone
    assert proteins[0].name == "sp_P62593_BLAT_ECOLX"
    table = sequences_table(proteins)
    assert list(table.columns[:4]) == ["id", "name", "length", "sha256"]
    assert table["length"].tolist() == [15, 4]
    # the header's text after the id: the summary's protein name
    assert [p.description for p in proteins] == ["beta-lactamase", ""]
    assert table["description"].tolist() == ["beta-lactamase", ""]


def test_sequences_table_round_trips_descriptions(tmp_path):
    from esm1v_scan.inputs.fasta import read_sequences_table
    from esm1v_scan.scoring.score_tables import write_table

    f = write_fasta(tmp_path / "a.fasta", ">a  TEM-1   beta-lactamase\tOS=E. coli\nMKV\n>b\nACDE\n")
    proteins = read_fasta(f)
    assert proteins[0].description == "TEM-1 beta-lactamase OS=E. coli"  # white space collapsed
    write_table(sequences_table(proteins), tmp_path / "s.tsv")
    assert read_sequences_table(tmp_path / "s.tsv") == proteins


def test_sha256_is_of_the_residues(tmp_path):
    import hashlib

    proteins = read_fasta(write_fasta(tmp_path / "a.fasta", ">x\nMKV\n"))
    assert proteins[0].sha256 == hashlib.sha256(b"MKV").hexdigest()


def test_safe_names_are_collision_free_and_order_independent():
    assert safe_name("sp|P62593|BLAT_ECOLX") == "sp_P62593_BLAT_ECOLX"
    assert safe_name("../../etc/passwd") == "etc_passwd"
    assert safe_name("|||") == "seq"
    names = assign_names(["a|b", "a_b", "c"])
    assert names["c"] == "c"
    assert names["a|b"] != names["a_b"]
    assert names["a|b"].startswith("a_b_") and names["a_b"].startswith("a_b_")
    assert assign_names(["a_b", "a|b", "c"]) == names
    # case-insensitive file systems: 'Abc' and 'abc' would share a folder
    ci = assign_names(["Abc", "abc"])
    assert ci["Abc"].lower() != ci["abc"].lower()
    assert assign_names(["sequences.tsv"])["sequences.tsv"] != "sequences.tsv"


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "the file is empty"),
        ("   \n\n", "the file is empty"),
        ("MKTAYIAKQR\n", "not a FASTA file"),
        ("id\tsequence\nx\tMKV\n", "not a FASTA file"),
        (">a\n\n>b\nMKV\n", "record 'a': the record has no residues"),
        (">a\nMKV\n>a\nMKV\n", "record 'a': duplicate id"),
        (">a\nMKVJ\n", "record 'a': a character 'J' at position 4 is not in the ESM alphabet"),
        (">a\nMK1V\n", "a character '1' at position 3"),
        (">a\nMK-V\n", "a gap '-' at position 3"),
        (">a\nMK*V\n", "a stop codon '*' at position 3"),
        (">dna\nATGGCGTACGATCGATCGAT\n", "record 'dna': this looks like DNA/RNA"),
    ],
)
def test_bad_fasta_gives_one_clear_line(tmp_path, content, message):
    f = tmp_path / "bad.fasta"
    f.write_text(content)
    with pytest.raises(InputError) as err:
        read_fasta(f)
    text = str(err.value)
    assert message in text
    assert text.startswith(str(f))  # names the file
    assert "\n" not in text


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_fasta(tmp_path / "nope.fasta")


def test_protein_made_of_acgt_letters_but_short_is_allowed(tmp_path):
    assert read_fasta(write_fasta(tmp_path / "a.fasta", ">p\nGATTACA\n"))[0].sequence == "GATTACA"


def test_long_proteins_are_accepted_and_a_bound_can_still_be_set(tmp_path):
    """Proteins longer than the model's 1,022-residue context are scored in windows now."""
    f = write_fasta(tmp_path / "long.fasta", ">long\n" + "MKV" * 841 + "\n")
    assert read_fasta(f)[0].length == 2523
    with pytest.raises(InputError, match="record 'long': the sequence has 2523 residues, more than the 2000 allowed"):
        read_fasta(f, max_length=2000)


# -- compressed input, byte-order marks and binary files ----------------------------------------

RECORDS = ">sp|P62593|BLAT_ECOLX beta-lactamase\nMSIQHFRVAL\nIPFAA\n>b\nACDE\n"


def _gzip(path, text):
    import gzip

    path.write_bytes(gzip.compress(text.encode()))
    return path


def _bgzip(path, text):
    """bgzip (multi-member gzip, as samtools writes it), in blocks small enough to split records."""
    from Bio import bgzf

    with bgzf.BgzfWriter(str(path), "wb") as fh:
        for i in range(0, len(text), 16):  # one gzip member per 16 bytes
            fh.write(text[i : i + 16].encode())
            fh.flush()
    return path


@pytest.mark.parametrize("writer, name", [(_gzip, "uniprot.fasta.gz"), (_bgzip, "uniprot.fa.bgz"),
                                          (_gzip, "no_extension"), (_gzip, "misnamed.fasta")])
def test_gzip_and_bgzip_input_is_read_whatever_its_name(tmp_path, writer, name):
    proteins = read_fasta(writer(tmp_path / name, RECORDS))
    assert [(p.id, p.name, p.sequence) for p in proteins] == [
        ("sp|P62593|BLAT_ECOLX", "sp_P62593_BLAT_ECOLX", "MSIQHFRVALIPFAA"), ("b", "b", "ACDE")]


def test_bgzip_writes_several_members(tmp_path):
    """The bgzip case above really is multi-member (the first member ends before the data does)."""
    import zlib

    raw = _bgzip(tmp_path / "x.bgz", RECORDS).read_bytes()
    first = zlib.decompressobj(16 + zlib.MAX_WBITS)
    assert first.decompress(raw) == RECORDS[:16].encode() and len(first.unused_data) > 100


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    f = tmp_path / "windows.fasta"
    f.write_bytes(b"\xef\xbb\xbf" + RECORDS.replace("\n", "\r\n").encode())
    assert [p.sequence for p in read_fasta(f)] == ["MSIQHFRVALIPFAA", "ACDE"]
    assert [p.sequence for p in read_fasta(_gzip(tmp_path / "w.gz", "\ufeff" + RECORDS))][1] == "ACDE"


def _zip(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x.fasta", RECORDS)
    return path.read_bytes()


def _compressed(module):
    import importlib

    return importlib.import_module(module).compress(RECORDS.encode())


@pytest.mark.parametrize(
    "content, looks_like",
    [
        (_zip, "this looks like a zip archive"),
        (lambda p: _compressed("bz2"), "this looks like a bzip2 file"),
        (lambda p: _compressed("lzma"), "this looks like an xz file"),
        (lambda p: b"\x28\xb5\x2f\xfd\x24\x05\x29\x00\x00", "this looks like a zstd file"),
        (lambda p: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "this looks like a PDF document"),
        (lambda p: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "this looks like a PNG image"),
        (lambda p: __import__("gzip").compress(b"BAM\x01\x00\x00\x00\x00"),
         "inside the gzip file, this looks like a BAM alignment file"),
        (lambda p: b">a\nMKV\x00\x00\x01\x02", "this looks like a binary file (it holds NUL bytes)"),
        (lambda p: b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\xcb\x4d", "a damaged or truncated gzip file"),
    ],
)
def test_other_binary_files_say_what_they_look_like(tmp_path, content, looks_like):
    f = tmp_path / "proteins.fasta"
    f.write_bytes(content(tmp_path / "z.zip"))
    with pytest.raises(InputError) as err:
        read_fasta(f)
    assert str(err.value).startswith(f"{f}: ")
    assert looks_like in str(err.value) and "\n" not in str(err.value)


def test_windows_1252_headers_are_read_as_such_with_a_warning_naming_the_lines(tmp_path):
    """Bytes of a header saved on Windows (cp1252 'é', '°') are never turned into U+FFFD: the
    line is read as Windows-1252 and the warning names the file and each such line."""
    path = tmp_path / "win.fasta"
    path.write_bytes(b">P1 Prot\xe9ine \xe0 37\xb0C\r\nMKV\r\n>caf\xe9 x\nMKL\n>ok \xc3\xa9 (UTF-8)\nMKW\n")
    warnings = []
    proteins = read_fasta(path, warn=warnings.append)
    assert [(p.id, p.description) for p in proteins] == [
        ("P1", "Protéine à 37°C"), ("café", "x"), ("ok", "é (UTF-8)")]
    assert all("\ufffd" not in p.id + p.description for p in proteins)
    assert warnings == [
        f"{path}: 2 line(s) are not UTF-8 and were read as Windows-1252 (line 1: '>P1 Protéine à "
        "37°C', line 3: '>café x'); check those ids and descriptions, or save the file as UTF-8"]
    # plain UTF-8 (and ASCII): no warning
    write_fasta(path, ">ok é\nMKW\n")
    assert read_fasta(path, warn=warnings.append)[0].description == "é"
    assert len(warnings) == 1


def test_a_windows_1252_warning_is_logged_by_default_and_lists_at_most_three_lines(tmp_path, caplog):
    path = tmp_path / "win.fasta"
    path.write_bytes(b"".join(b">s%d \xb5M\nMKV\n" % i for i in range(1, 6)))
    with caplog.at_level("WARNING", logger="esm1v_scan.inputs.fasta"):
        assert [p.description for p in read_fasta(path)] == ["µM"] * 5
    assert caplog.messages == [
        f"{path}: 5 line(s) are not UTF-8 and were read as Windows-1252 (line 1: '>s1 µM', line 3: "
        "'>s2 µM', line 5: '>s3 µM' and 2 more); check those ids and descriptions, or save the file "
        "as UTF-8"]


def test_bytes_that_are_neither_utf8_nor_windows_1252_stop_with_the_line(tmp_path):
    path = tmp_path / "bad.fasta"
    path.write_bytes(b">a\nMKV\n>b x\x81y\nMKL\n")
    with pytest.raises(InputError, match=rf"^{path}: line 3: the byte 0x81 is neither UTF-8 nor "
                                         "Windows-1252 text; save the file as UTF-8$"):
        read_fasta(path)
