"""The HGVS p. reader (esm1v_scan.inputs.hgvs): every accepted form with its type, normalised notation and
mutant sequence (written out by hand below), reference checks with the list's offset, prefixes,
the one-line errors, and the workflow's own A25G / A25G:K40R forms."""

import pytest

from esm1v_scan.errors import InputError
from esm1v_scan.inputs.fasta import Protein
from esm1v_scan.inputs.hgvs import (
    ACCEPTED_FORMS,
    VARIANT_TYPES,
    Edit,
    ProteinVariant,
    Site,
    apply,
    check,
    names_sequence,
    parse,
    sites,
)

# 1 M, 2 K, 3 T, 4 G, 5 S, 6-8 AAA (a repeat), 9 L, 10 R, 11 W, 12 K, 13 E, 14 E, 15 C, 16 Y,
# 17 F, 18 P, 19 D, 20 N; the stop would be residue 21
SEQ = "MKTGSAAALRWKEECYFPDN"
PROT = Protein("sp|P99999|TEST_HUMAN", "sp_P99999_TEST_HUMAN", SEQ)

# text -> (variant_type, normalised hgvs_p, mutant sequence or None when none is defined)
FORMS = {
    # substitutions, every spelling
    "p.Arg10Cys": ("missense", "p.Arg10Cys", "MKTGSAAALCWKEECYFPDN"),
    "p.R10C": ("missense", "p.Arg10Cys", "MKTGSAAALCWKEECYFPDN"),
    "Arg10Cys": ("missense", "p.Arg10Cys", "MKTGSAAALCWKEECYFPDN"),
    "p.(Arg10Cys)": ("missense", "p.Arg10Cys", "MKTGSAAALCWKEECYFPDN"),
    "R10C": ("missense", "p.Arg10Cys", "MKTGSAAALCWKEECYFPDN"),
    " r10c ": ("missense", "p.Arg10Cys", "MKTGSAAALCWKEECYFPDN"),
    # synonymous, with VEP's URL-escaped '='
    "p.Ala6=": ("synonymous", "p.Ala6=", SEQ),
    "p.Ala6%3D": ("synonymous", "p.Ala6=", SEQ),
    "p.(Ala6=)": ("synonymous", "p.Ala6=", SEQ),
    "A6A": ("synonymous", "p.Ala6=", SEQ),
    # stop-gain: truncated before the stop
    "p.Trp11Ter": ("stop_gained", "p.Trp11Ter", "MKTGSAAALR"),
    "p.Trp11*": ("stop_gained", "p.Trp11Ter", "MKTGSAAALR"),
    "W11*": ("stop_gained", "p.Trp11Ter", "MKTGSAAALR"),
    # in-frame deletions
    "p.Lys12del": ("inframe_deletion", "p.Lys12del", "MKTGSAAALRWEECYFPDN"),
    "p.K12del": ("inframe_deletion", "p.Lys12del", "MKTGSAAALRWEECYFPDN"),
    "p.Lys12_Glu14del": ("inframe_deletion", "p.Lys12_Glu14del", "MKTGSAAALRWCYFPDN"),
    # insertion between neighbours
    "p.Lys12_Glu13insGlyAla": ("inframe_insertion", "p.Lys12_Glu13insGlyAla",
                               "MKTGSAAALRWKGAEECYFPDN"),
    "p.K12_E13insGA": ("inframe_insertion", "p.Lys12_Glu13insGlyAla", "MKTGSAAALRWKGAEECYFPDN"),
    # deletion-insertion
    "p.Cys15delinsTrpVal": ("delins", "p.Cys15delinsTrpVal", "MKTGSAAALRWKEEWVYFPDN"),
    "p.C15delinsWV": ("delins", "p.Cys15delinsTrpVal", "MKTGSAAALRWKEEWVYFPDN"),
    "p.Lys12_Glu13delinsTrp": ("delins", "p.Lys12_Glu13delinsTrp", "MKTGSAAALRWWECYFPDN"),
    # duplications
    "p.Gly4dup": ("duplication", "p.Gly4dup", "MKTGGSAAALRWKEECYFPDN"),
    "p.Gly4_Ala6dup": ("duplication", "p.Gly4_Ala6dup", "MKTGSAGSAAALRWKEECYFPDN"),
    # frameshifts: no mutant sequence
    "p.Arg10fs": ("frameshift", "p.Arg10fs", None),
    "p.Arg10ProfsTer23": ("frameshift", "p.Arg10ProfsTer23", None),
    "p.R10Pfs*23": ("frameshift", "p.Arg10ProfsTer23", None),
    "p.Arg10fsTer23": ("frameshift", "p.Arg10fsTer23", None),
    "p.(Arg10ProfsTer?)": ("frameshift", "p.Arg10ProfsTer?", None),
    # start loss
    "p.Met1?": ("start_lost", "p.Met1?", None),
    "p.M1?": ("start_lost", "p.Met1?", None),
    "p.Met1Val": ("start_lost", "p.Met1Val", "VKTGSAAALRWKEECYFPDN"),
    # stop loss: the stop is residue 21
    "p.Ter21GlnextTer17": ("stop_lost", "p.Ter21GlnextTer17", None),
    "p.*21Qext*17": ("stop_lost", "p.Ter21GlnextTer17", None),
    "p.Ter21Glnext*?": ("stop_lost", "p.Ter21GlnextTer?", None),
    # multi-site alleles
    "p.[Arg10Cys;Lys12Arg]": ("multi_missense", "p.[Arg10Cys;Lys12Arg]", "MKTGSAAALCWREECYFPDN"),
    "p.[R10C;K12R]": ("multi_missense", "p.[Arg10Cys;Lys12Arg]", "MKTGSAAALCWREECYFPDN"),
    "p.[(Arg10Cys);(Lys12Arg)]": ("multi_missense", "p.[Arg10Cys;Lys12Arg]",
                                  "MKTGSAAALCWREECYFPDN"),
    "R10C:K12R": ("multi_missense", "p.[Arg10Cys;Lys12Arg]", "MKTGSAAALCWREECYFPDN"),
    "R10C: K12R": ("multi_missense", "p.[Arg10Cys;Lys12Arg]", "MKTGSAAALCWREECYFPDN"),
    "p.[Ala6=;Arg10Cys]": ("multi_missense", "p.[Ala6=;Arg10Cys]", "MKTGSAAALCWKEECYFPDN"),
    # a mixed allele: typed by its most severe change, its mutant sequence still defined
    "p.[Arg10Cys;Lys12del]": ("inframe_deletion", "p.[Arg10Cys;Lys12del]",
                              "MKTGSAAALCWEECYFPDN"),
    "p.[Gly4dup;Lys12_Glu13insTrp]": ("inframe_insertion", "p.[Gly4dup;Lys12_Glu13insTrp]",
                                      "MKTGGSAAALRWKWEECYFPDN"),
    "p.[Lys12_Glu13insTrp;Lys12Arg]": ("inframe_insertion", "p.[Lys12_Glu13insTrp;Lys12Arg]",
                                       "MKTGSAAALRWRWEECYFPDN"),
    "p.[Gly4dup;Arg10Cys]": ("duplication", "p.[Gly4dup;Arg10Cys]", "MKTGGSAAALCWKEECYFPDN"),
    "p.[Lys2del;Ala7=;Lys12_Glu13delinsTrpAla]": ("delins", "p.[Lys2del;Ala7=;Lys12_Glu13delinsTrpAla]",
                                                "MTGSAAALRWWAECYFPDN"),
    "p.[Arg10Cys;Trp11Ter]": ("stop_gained", "p.[Arg10Cys;Trp11Ter]", "MKTGSAAALC"),
}


@pytest.mark.parametrize("text", list(FORMS))
def test_every_form_type_normalised_notation_and_mutant_sequence(text):
    variant_type, hgvs_p, mutant = FORMS[text]
    v = parse(text)
    assert v.variant_type == variant_type
    assert v.variant_type in VARIANT_TYPES
    assert v.hgvs_p == hgvs_p
    assert v.reference is None
    assert v.text == text
    assert parse(v.hgvs_p) == v  # round trip
    check(v, PROT)
    if mutant is None:
        assert not v.sequence_known
        with pytest.raises(ValueError, match=rf"a {variant_type} variant does not give"):
            apply(v, SEQ)
    else:
        assert v.sequence_known
        assert apply(v, SEQ) == mutant
        assert apply(v, PROT) == mutant


def test_the_data_model_of_each_kind():
    assert parse("p.Lys12_Glu14del").edits == (Edit("deletion", 12, "K", 14, "E"),)
    assert parse("p.Lys12_Glu13insGlyAla").edits == (Edit("insertion", 12, "K", 13, "E", "GA"),)
    assert parse("p.R10Pfs*23").edits == (Edit("frameshift", 10, "R", 10, "R", "P", "23"),)
    assert parse("p.Ter21Glnext*?").edits == (Edit("extension", 21, "*", 21, "*", "Q", "?"),)
    assert parse("W11*").edits == (Edit("substitution", 11, "W", 11, "W", "*"),)
    assert parse("p.Met1?").edits == (Edit("unknown", 1, "M", 1, "M"),)
    v = parse("R10C:K12R")
    assert v == ProteinVariant((Edit("substitution", 10, "R", 10, "R", "C"),
                                Edit("substitution", 12, "K", 12, "K", "R")))
    assert v.multi_site and v.substitutions_only
    assert str(v) == "p.[Arg10Cys;Lys12Arg]"
    mixed = parse("p.[Arg10Cys;Lys12del]")
    assert mixed.multi_site and not mixed.substitutions_only and mixed.sequence_known
    with pytest.raises(AttributeError):
        v.reference = "x"  # frozen


def test_the_workflow_forms_are_unchanged_and_negative_numbers_follow_the_offset():
    assert parse("A25G").hgvs_p == "p.Ala25Gly"
    assert parse("a25g") == parse("A25G")
    assert parse("A25G:K40R").hgvs_p == "p.[Ala25Gly;Lys40Arg]"
    # a list with offset -5: residue -5 is the first (M), -4 is K, 0 is the sixth (A)
    for text, number, wt, mutant in [("K-4R", -4, "K", "MRTGSAAALRWKEECYFPDN"),
                                     ("A0G", 0, "A", "MKTGSGAALRWKEECYFPDN"),
                                     ("p.Lys-4Arg", -4, "K", "MRTGSAAALRWKEECYFPDN")]:
        v = parse(text)
        assert v.variant_type == "missense"
        assert parse(v.hgvs_p) == v
        position = number + 5 + 1
        assert check(v, SEQ, offset=-5) == (position,)
        assert sites(v, offset=-5) == (Site(position, number, wt, mutant[position - 1]),)
        assert apply(v, SEQ, offset=-5) == mutant
    assert parse("F-5A").hgvs_p == "p.Phe-5Ala"
    assert parse("S0A").hgvs_p == "p.Ser0Ala"
    # the numbers the tables write, nothing else: no -0, no leading zero on a negative number, no
    # digits outside ASCII (int() would read them)
    for bad in ["M-05A", "A-0G", "p.Met-05Ala", "A\u0661G", "p.Arg97fsTer\u0662"]:
        with pytest.raises(InputError):
            parse(bad)
    # TEM-1's DMS numbering starts at 24: residue 33 is the tenth (R)
    assert check(parse("p.R33C"), SEQ, offset=24) == (10,)
    assert apply(parse("p.Arg33_Trp34insGly"), SEQ, offset=24) == "MKTGSAAALRGWKEECYFPDN"


def test_sites_are_the_substitutions_to_score():
    assert sites(parse("p.[Arg10Cys;Lys12Arg]")) == (Site(10, 10, "R", "C"), Site(12, 12, "K", "R"))
    assert sites(parse("p.Ala6=")) == (Site(6, 6, "A", "A"),)
    assert sites(parse("p.Met1Val")) == (Site(1, 1, "M", "V"),)
    for text, kind in [("W11*", "stop_gained"), ("p.Lys12del", "inframe_deletion"),
                       ("p.[Arg10Cys;Lys12del]", "inframe_deletion")]:
        with pytest.raises(ValueError, match=rf"a {kind} variant has no single-site"):
            sites(parse(text))


def test_positions_checked_and_returned():
    assert check(parse("p.Lys12_Glu14del"), SEQ) == (12, 13, 14)
    assert check(parse("p.Lys12_Glu13insGlyAla"), SEQ) == (12, 13)
    assert check(parse("p.[Gly4dup;Arg10Cys]"), SEQ) == (4, 10)
    assert check(parse("p.Ter21GlnextTer17"), SEQ) == ()  # the stop is not in the sequence


def test_the_3prime_rule_deletion_and_duplication_in_a_repeat_give_one_sequence():
    # residues 6-8 are AAA: HGVS writes the change at Ala8, people also write Ala6 or Ala7
    for text in ["p.Ala8del", "p.Ala7del", "p.Ala6del"]:
        assert apply(parse(text), SEQ) == "MKTGSAALRWKEECYFPDN"
    for text in ["p.Ala8dup", "p.Ala6dup"]:
        assert apply(parse(text), SEQ) == "MKTGSAAAALRWKEECYFPDN"
    for text in ["p.Ala7_Ala8del", "p.Ala6_Ala7del"]:
        assert apply(parse(text), SEQ) == "MKTGSALRWKEECYFPDN"
    for text in ["p.Ala7_Ala8dup", "p.Ala6_Ala7dup"]:
        assert apply(parse(text), SEQ) == "MKTGSAAAAALRWKEECYFPDN"


def test_reference_prefix_is_returned_and_matched_to_fasta_ids():
    v = parse("ENSP00000269305.4:p.Arg273His")
    assert (v.reference, v.hgvs_p, v.variant_type) == ("ENSP00000269305.4", "p.Arg273His", "missense")
    assert v.hgvs == "ENSP00000269305.4:p.Arg273His"
    assert parse(v.hgvs) == v
    w = parse("NP_000537.3:p.R273H")
    assert (w.reference, w.hgvs_p) == ("NP_000537.3", "p.Arg273His")
    assert w != parse("p.Arg273His")  # the prefix is part of the variant
    assert parse("ENSP00000269305.4:p.Ala25%3D").hgvs == "ENSP00000269305.4:p.Ala25="
    assert parse("NP_000537.3:p.[Arg97Cys;Lys40Arg]").reference == "NP_000537.3"
    assert names_sequence("ENSP00000269305.4", "ENSP00000269305.4")
    assert names_sequence("ENSP00000269305.4", "ENSP00000269305.3")  # version ignored
    assert names_sequence("P04637", "sp|P04637|P53_HUMAN")
    assert names_sequence("NM_000546.6(TP53)", "NM_000546")
    assert not names_sequence("NP_000537.3", "sp|P04637|P53_HUMAN")
    assert not names_sequence(None, "sp|P04637|P53_HUMAN")


P53 = Protein("P53_HUMAN", "P53_HUMAN", "M" + "A" * 95 + "K")  # residue 97 is Lys


@pytest.mark.parametrize("text, sequence, offset, message", [
    ("p.Arg97Cys", P53, 1,
     "variants.csv: row 7: p.Arg97Cys: residue 97 is Lys in sequence P53_HUMAN, not Arg"),
    ("R97C", P53, 1, "variants.csv: row 7: R97C: residue 97 is Lys in sequence P53_HUMAN, not Arg"),
    ("p.[Lys97Arg;Ala2_Gly4del]", P53, 1,
     "variants.csv: row 7: p.[Lys97Arg;Ala2_Gly4del]: residue 4 is Ala in sequence P53_HUMAN, "
     "not Gly"),
    ("p.Lys98Arg", P53, 1,
     "variants.csv: row 7: p.Lys98Arg: residue 98 is beyond the last residue of sequence "
     "P53_HUMAN, numbered 97 (97 residues, the first numbered 1)"),
    ("p.Met0Val", P53, 1,
     "variants.csv: row 7: p.Met0Val: residue 0 is before the first residue of sequence P53_HUMAN, "
     "numbered 1"),
    ("p.Lys97Arg", P53, 2,
     "variants.csv: row 7: p.Lys97Arg: residue 97 is Ala in sequence P53_HUMAN, not Lys"),
    ("p.Ter97GlnextTer5", P53, 1,
     "variants.csv: row 7: p.Ter97GlnextTer5: residue 97 is Lys in sequence P53_HUMAN, not Ter"),
    ("p.Ter99GlnextTer5", P53, 1,
     "variants.csv: row 7: p.Ter99GlnextTer5: residue 99 is beyond the stop of sequence P53_HUMAN, "
     "numbered 98"),
    ("p.Ter98GlnextTer5", "MAK", 1,
     "variants.csv: row 7: p.Ter98GlnextTer5: residue 98 is beyond the stop of the sequence, "
     "numbered 4"),
    ("p.Sec2Cys", "MXK", 1, "variants.csv: row 7: p.Sec2Cys: residue 2 is Xaa in the sequence, not Sec"),
])
def test_reference_mismatch_is_one_line_naming_file_row_variant_and_residue(text, sequence, offset,
                                                                             message):
    with pytest.raises(InputError) as err:
        check(parse(text), sequence, offset, where="row 7", file="variants.csv")
    assert str(err.value) == message
    assert err.value.file == "variants.csv"
    assert "\n" not in str(err.value)


def test_apply_checks_the_reference_first():
    with pytest.raises(InputError, match=r"^p.Lys12del: residue 12 is Glu in the sequence, not Lys$"):
        apply(parse("p.Lys12del"), "M" + "E" * 20)


@pytest.mark.parametrize("text, problem", [
    ("p.Arg97Xyz", "'Xyz' is not an amino-acid code"),
    ("p.Xyz97Arg", "'Xyz' is not an amino-acid code"),
    ("p.R97Z", "'Z' is not an amino-acid code"),
    ("p.W30X", "'X' is not accepted (for a stop write * or Ter)"),
    ("p.Lys12_Glu11del", "the range 12_11 runs backwards"),
    ("p.Lys12_Lys12del", "the range 12_12 has one residue: write it once"),
    ("p.Lys12_Glu14insGly", "the insertion's flanking residues 12 and 14 are not neighbours"),
    ("p.Lys12insGly", "an insertion names its two neighbouring residues (like p.Lys12_Glu13insGlyAla)"),
    ("p.Arg97?", "'?' (unknown consequence) is accepted for the start codon only (p.Met1?)"),
    ("p.Arg110GlnextTer17", "an extension starts at the stop (like p.Ter110GlnextTer17)"),
    ("p.Ter110Gln", "a substitution of the stop (Ter); a change of the stop is written as an "
                    "extension, like p.Ter110GlnextTer17"),
    ("p.Ter110del", "a deletion of the stop (Ter); a change of the stop is written as an "
                    "extension, like p.Ter110GlnextTer17"),
    ("p.Cys28delinsTrpTer", "a stop among inserted residues; write the stop-gain (like p.Trp30Ter)"),
    ("p.Arg97_Lys99fs", "a frameshift names one residue, not a range"),
    ("p.Arg97Cys_Lys98", "cannot read the change 'Cys_Lys98'"),
    ("p.Arg97C", "cannot read the change 'C' (one- and three-letter codes mixed)"),
    ("p.(Arg97Cys", "an opening '(' without its closing ')'"),
    ("p.[Arg97Cys;Lys40Arg", "an allele needs a closing ']'"),
    ("p.[Arg97Cys];[Lys40Arg]", "two alleles ([...];[...]): give one allele per row"),
    ("p.[Arg97Cys;Arg97His]", "'Arg97Cys' and 'Arg97His' change the same residues"),
    ("p.[Lys12_Glu14del;Glu13Lys]", "'Lys12_Glu14del' and 'Glu13Lys' change the same residues"),
    ("p.[Trp30Ter;Lys40Arg]", "'Lys40Arg' comes after 'Trp30Ter', which ends the protein"),
    ("p.[Arg97Cys;Lys40Xyz]", "'Lys40Xyz': 'Xyz' is not an amino-acid code"),
    ("p.[Arg97Cys;]", "an empty change in the allele"),
    ("c.817C>T", "a nucleotide change (c., g., n., m. or r.): give the protein change (p.)"),
    ("NM_000546.6:c.817C>T", "a nucleotide change (c., g., n., m. or r.): give the protein change (p.)"),
    ("NP_000537.3:R273H", "a reference prefix ('NP_000537.3') must be followed by 'p.' "
                          "(like NP_000537.3:p.Arg273His)"),
    ("A25G;K40R", "';' joins changes inside p.[...;...] only (or join them with ':', as A25G:K40R)"),
    ("A25G:", "an empty change between ':'"),
    ("A25", "a residue but no change"),
    ("25G", "not a protein change"),
    ("A25GG", "cannot read the change 'GG'"),
    ("P.Arg97Cys", "not a protein change"),
    ("", "empty variant"),
])
def test_unreadable_variants_are_one_line_with_file_row_text_and_accepted_forms(text, problem):
    with pytest.raises(InputError) as err:
        parse(text, file="variants.csv", where="row 7")
    assert str(err.value) == (f"variants.csv: row 7: '{text}': {problem} "
                              f"(accepted forms: {ACCEPTED_FORMS})")
    assert "\n" not in str(err.value)


def test_parse_error_without_file_and_odd_characters():
    with pytest.raises(InputError) as err:
        parse("A25G\nK40R")
    assert str(err.value).startswith("'A25G\\nK40R': ")
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match=r"^'nan': not a protein change"):
        parse(float("nan"))
