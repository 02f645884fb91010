"""The bibliography's author-year labels (book/_ext/bib_style.py) read as the text
cites them, with LaTeX resolved."""

import sys
from pathlib import Path

from pybtex.database import Entry, Person

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "book" / "_ext"))
import bib_style  # noqa: E402


def entry(*authors, year="2015"):
    made = Entry("article", fields={"year": year, "title": "A title: more"})
    made.persons["author"] = [Person(a) for a in authors]
    return made


def test_latex_accents_and_braces_become_letters():
    assert bib_style.author_year(entry("Popovi{\\'c}, Maja")) == "Popović, 2015"
    assert bib_style.author_year(entry("{van den} Oord, Aäron")) == "van den Oord, 2015"


def test_two_authors_are_named_and_more_are_et_al():
    assert (
        bib_style.author_year(entry("Ba, Jimmy", "Kiros, Jamie"))
        == "Ba and Kiros, 2015"
    )
    three = entry("Devlin, Jacob", "Chang, Ming-Wei", "Lee, Kenton")
    assert bib_style.author_year(three) == "Devlin et al., 2015"
