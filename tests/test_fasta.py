import pytest

from esm1v_scan.errors import InputError
from esm1v_scan.fasta import assign_names, read_fasta, safe_name, sequences_table
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
