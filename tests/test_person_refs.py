"""A person's reference: the shape the API accepts, every character of the alphabet in
every position, so references are as hard to guess as their length promises."""

from __future__ import annotations

import re

from codesvc.service.persons import _ALPHABET, new_person_refs


def test_references_have_the_documented_shape_and_use_the_whole_alphabet_everywhere():
    refs = new_person_refs(5000) + [ref for _ in range(50) for ref in new_person_refs(1)]
    assert len(refs) == 5050
    assert all(re.fullmatch(rf"p_[{_ALPHABET}]{{12}}", ref) for ref in refs)
    assert len(set(refs)) == len(refs)
    for position in range(2, 14):
        assert {ref[position] for ref in refs} == set(_ALPHABET)
