"""The README's list of what makes the browser fetch is the engine's own (elements.LOADERS):
the two agree, every row of the element table that loads is on it, and every URL attribute of
HTML and SVG is either on it or named as no loader."""

from __future__ import annotations

from pathlib import Path

from consentgate.html import decisions
from consentgate.html.elements import (
    CITED,
    ELEMENTS,
    LINK_RELS,
    LOADERS,
    NOT_LOADING,
    loader_list,
)

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN, END = "<!-- loaders: begin -->", "<!-- loaders: end -->"

# URL-valued content attributes of HTML (its attribute index) and SVG, by element.
URL_ATTRIBUTES = {
    "a": ("href", "ping", "attributionsrc"),
    "area": ("href", "ping", "attributionsrc"),
    "audio": ("src",),
    "base": ("href",),
    "blockquote": ("cite",),
    "body": ("background",),
    "button": ("formaction",),
    "del": ("cite",),
    "embed": ("src",),
    "feimage": ("href", "xlink:href"),
    "form": ("action",),
    "frame": ("src", "longdesc"),
    "html": ("manifest",),
    "iframe": ("src", "longdesc"),
    "image": ("href", "xlink:href"),
    "img": ("src", "srcset", "longdesc", "lowsrc", "attributionsrc"),
    "input": ("src", "formaction"),
    "ins": ("cite",),
    "link": ("href", "imagesrcset"),
    "object": ("data", "codebase", "classid", "archive"),
    "q": ("cite",),
    "script": ("src", "href", "xlink:href", "attributionsrc"),
    "source": ("src", "srcset"),
    "table": ("background",),
    "td": ("background",),
    "th": ("background",),
    "track": ("src",),
    "use": ("href",),
    "video": ("src", "poster"),
}


def readme_list() -> str:
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, "the README holds the list between its markers"
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def test_the_readme_holds_the_engines_list() -> None:
    assert readme_list() == loader_list()


def test_every_loading_row_is_on_the_list_with_where_it_is_specified() -> None:
    listed = " ".join(x.where for x in LOADERS)
    for row in ELEMENTS:
        if row.loads or set(row.refused) & {"ping", "background", "attributionsrc"}:
            assert f"<{row.tag}>" in listed, row.tag
            assert CITED[row.tag], row.tag
    assert {r.encode() for r in LINK_RELS} == decisions.LINK_LOADS


def test_every_url_attribute_is_a_loader_or_named_as_none() -> None:
    loading: dict[str, set[str]] = {}
    for loader in LOADERS:
        for tag in loader.where.split(", "):
            attrs = {a.strip().split(" ")[0] for a in loader.what.split(",")}
            loading.setdefault(tag.strip("<>"), set()).update(attrs)
    not_loading = " ".join(NOT_LOADING)
    missing = [
        f"{tag} {attr}"
        for tag, attrs in URL_ATTRIBUTES.items()
        for attr in attrs
        if attr not in loading.get(tag, set())
        and f"{tag} {attr}" not in not_loading
        and not (tag == "body" and attr == "background")
        and not (tag == "base" and attr == "href")
    ]
    assert missing == []
