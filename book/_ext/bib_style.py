"""Bibliography entries labelled as the text cites them: "Vaswani et al., 2017", not
[VSP+17].

sphinxcontrib-bibtex formats the bibliography with a pybtex style; pybtex's own label
styles are numbers or alpha codes. This registers ``authoryear``: pybtex's ``plain``
style (sorted by author), with author-year labels (``_config.yml``:
``bibtex_default_style: authoryear``).
"""

from pybtex.plugin import register_plugin
from pybtex.richtext import Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle


def _surname(person) -> str:
    """The last names as a reader writes them: LaTeX accents and braces resolved
    ("Popovi{\\'c}" is "Popović")."""
    return " ".join(
        Text.from_latex(name).render_as("text") for name in person.last_names
    )


def author_year(entry) -> str:
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    names = [_surname(p) for p in people if _surname(p) != "others"]
    if not names:
        who = entry.fields.get("title", "Anonymous").split(":")[0]
    elif len(names) == 1:
        who = names[0]
    elif len(names) == 2 and len(people) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    year = entry.fields.get("year")
    return f"{who}, {year}" if year else who


class AuthorYearLabels(BaseLabelStyle):
    def format_labels(self, sorted_entries):
        for entry in sorted_entries:
            yield author_year(entry)


class AuthorYearStyle(PlainStyle):
    default_label_style = AuthorYearLabels


def setup(app):
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"parallel_read_safe": True}
