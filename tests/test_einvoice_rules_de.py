"""The native XRechnung rules (`rathaus.einvoice.rules_de`) agree with KoSIT's compiled XSL for
XRechnung 3.0.2 on every corpus instance and on mutated copies that break each rule.

Agreement is checked rule by rule on the multiset of (rule id, SVRL location)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from lxml import etree

from rathaus.einvoice import conformance as cf
from rathaus.einvoice import rules_de

CORPORA = Path(__file__).resolve().parent / "corpora"
# conftest points `conformance` at the vendored copy (RATHAUS_CORPORA): every path it reads lies there
assert cf.CORPORA == CORPORA and cf.available(), cf.CORPORA

FILES = cf.corpus_files()


def _id(path) -> str:
    return str(path.relative_to(cf.CORPORA))


@pytest.mark.parametrize("path", FILES, ids=[_id(p) for p in FILES])
def test_corpus_instance_agrees(path):
    data = path.read_bytes()
    syntax = cf.syntax_of(cf.parse(data))
    assert syntax is not None
    comparison = cf.compare(data, syntax)
    assert comparison.disagreements() == {}
    assert comparison.messages_agree()


CEN_UNIT = cf.cen_unit_test_files()


@pytest.mark.parametrize("path", CEN_UNIT, ids=[_id(p) for p in CEN_UNIT])
def test_cen_unit_test_fragments_agree(path):
    from saxonche import PySaxonApiError

    fragments = cf.cen_fragments(path)
    assert fragments
    for data in fragments:
        try:
            comparison = cf.compare(data, "ubl")
        except PySaxonApiError:     # the official XSL stops with a dynamic error (e.g. empty amount)
            rules_de.check(data, "ubl")   # the native rules still answer
            continue
        assert comparison.disagreements() == {}


@pytest.mark.parametrize("kind,rule", cf.mutation_cases(), ids=[f"{k}-{r}" for k, r in cf.mutation_cases()])
def test_mutation_breaks_rule_in_both(kind, rule):
    data = cf.mutate(kind, cf.MUTATIONS[kind][rule])
    comparison = cf.compare(data, cf.SYNTAX[kind])
    native = Counter(r for r, _ in comparison.native.elements())
    official = Counter(r for r, _ in comparison.official.elements())
    assert official[rule] >= 1, f"die Mutation bricht {rule} offiziell nicht"
    assert native[rule] == official[rule]
    assert comparison.disagreements() == {}
    assert comparison.messages_agree()


@pytest.mark.parametrize("seed", range(4))
def test_random_mutations_agree(seed):
    """Random edits of corpus instances (deterministic): native and official agree wherever the official
    XSL runs to the end (on some broken documents it stops with a dynamic error)."""
    from saxonche import PySaxonApiError

    compared = 0
    for label, data, syntax in cf.random_mutations(seed, 100):
        try:
            comparison = cf.compare(data, syntax)
        except PySaxonApiError:
            rules_de.check(data, syntax)
            continue
        assert comparison.disagreements() == {}, label
        assert comparison.messages_agree(), label
        compared += 1
    assert compared > 50


@pytest.mark.parametrize("kind", ["ubl", "ubl-cn", "cii"])
def test_base_instances_are_clean(kind):
    data = cf.BASE[kind].read_bytes()
    assert rules_de.check(data, cf.SYNTAX[kind]) == []
    assert cf.compare(data, cf.SYNTAX[kind]).official == Counter()


def test_every_rule_of_the_official_set_is_implemented_and_mutated():
    assert set(rules_de.ALL_RULES) == rules_de.IMPLEMENTED
    for syntax in ("ubl", "cii"):
        assert rules_de.IMPLEMENTED_BY_SYNTAX[syntax] == set(cf.MUTATIONS[syntax])


def test_findings_carry_official_flag_and_message():
    data = cf.mutate("ubl", cf.MUTATIONS["ubl"]["BR-DE-15"])
    [finding] = rules_de.check(data, "ubl")
    assert finding.rule == "BR-DE-15"
    assert finding.flag == "fatal"
    assert finding.message == '[BR-DE-15] Das Element "Buyer reference" (BT-10) muss übermittelt werden.'
    assert finding.location == "/ubl:Invoice"
    warning = rules_de.check(cf.mutate("cii", cf.MUTATIONS["cii"]["BR-DE-27"]), "cii")
    assert [(f.rule, f.flag) for f in warning] == [("BR-DE-27", "warning")]


def test_accepts_parsed_element_and_refuses_doctype():
    root = etree.fromstring(cf.BASE["cii"].read_bytes())
    assert rules_de.check(root, "cii") == []
    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x>&e;</x>'
    with pytest.raises(ValueError):
        rules_de.check(evil, "ubl")
