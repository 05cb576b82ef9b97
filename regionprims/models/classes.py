"""Class names: the shipped ImageNet-1k table and resolving a user's class text to an index.

`data/imagenet_classes.json` holds the 1000 ILSVRC-2012 classes in the standard index order
(0 tench ... 999 toilet tissue): a short unique display `name`, the WordNet `synonyms` of the
synset (e.g. 281 "tabby": ["tabby", "tabby cat"]) and the `wnid`. No WordNet download is needed.
"""
from __future__ import annotations

import difflib
import json
import operator
import re
from functools import lru_cache
from importlib import resources
from typing import Sequence

from regionprims.errors import UserError
from regionprims.validation import MAX_DIGITS, short, validate_class_index

_DATA = "imagenet_classes.json"
MAX_NAME = 200                 # characters of a class name query


@lru_cache(maxsize=None)
def _imagenet_table() -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...], tuple[str, ...]]:
    text = resources.files("regionprims").joinpath("data", _DATA).read_text(encoding="utf-8")
    rows = json.loads(text)["classes"]
    if [r["index"] for r in rows] != list(range(1000)):
        raise RuntimeError(f"{_DATA} is damaged: expected indices 0..999 in order")
    return (tuple(r["name"] for r in rows),
            tuple(tuple(r["synonyms"]) for r in rows),
            tuple(r["wnid"] for r in rows))


def imagenet_class_names() -> tuple[str, ...]:
    """The 1000 ImageNet class display names, index order (cached; the same tuple every call)."""
    return _imagenet_table()[0]


def imagenet_synonyms() -> tuple[tuple[str, ...], ...]:
    """WordNet synonyms of each ImageNet class (the first one is the usual name)."""
    return _imagenet_table()[1]


def imagenet_wnids() -> tuple[str, ...]:
    """WordNet ids (n01440764, ...) of the ImageNet classes, index order."""
    return _imagenet_table()[2]


def _norm(text: str) -> str:
    return " ".join(text.casefold().replace("_", " ").split())


def _label(i: int, class_names: Sequence[str]) -> str:
    return f"{class_names[i]} ({i})"


def _candidates(ids: Sequence[int], class_names: Sequence[str], most: int = 5) -> str:
    shown = ", ".join(_label(i, class_names) for i in list(ids)[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def resolve_class(text: str | int, class_names: Sequence[str],
                  synonyms: Sequence[Sequence[str]] | None = None) -> int:
    """A class index from an index (3, "3") or a name (case-insensitive).

    Order: exact name; exact synonym; the one name/synonym containing the text, or else the
    one containing it as whole words ("golden" -> golden retriever). Ambiguous or unknown text raises UserError
    with up to 5 candidates; an index outside 0..n-1 raises UserError naming the range.
    `synonyms` defaults to the ImageNet synonyms when `class_names` is the ImageNet table.
    """
    n = len(class_names)
    if n == 0:
        raise UserError("this model has no classes")
    if isinstance(text, bool):
        raise UserError(f"class must be an index 0..{n - 1} or a name, got {short(text)}")
    if not isinstance(text, str):
        try:
            return validate_class_index(operator.index(text), n)
        except TypeError:
            raise UserError(f"class must be an index 0..{n - 1} or a name, got {short(text)}") from None
    raw = text.strip()
    if not raw:
        raise UserError(f"class is empty: give an index 0..{n - 1} or a name")
    if re.fullmatch(r"[+-]?\d+", raw):
        if len(raw.lstrip("+-")) > MAX_DIGITS:
            raise UserError(f"class index {short(raw)} is out of range 0..{n - 1}")
        return validate_class_index(int(raw), n)
    if len(raw) > MAX_NAME:
        raise UserError(f"class name {short(raw)} is too long (at most {MAX_NAME} characters)")
    if synonyms is None and n == 1000 and (class_names is imagenet_class_names()
                                          or tuple(class_names) == imagenet_class_names()):
        synonyms = imagenet_synonyms()
    texts = [[_norm(class_names[i])] + ([_norm(s) for s in synonyms[i]] if synonyms is not None and i < len(synonyms)
                                        else []) for i in range(n)]
    return _by_name(raw, texts, class_names)


def _by_name(raw: str, texts: list[list[str]], class_names: Sequence[str]) -> int:
    """The class whose name (texts[i][0]) or synonym (texts[i][1:]) is, or else contains, `raw`."""
    q, n = _norm(raw), len(texts)
    exact = [i for i in range(n) if texts[i][0] == q] or [i for i in range(n) if q in texts[i][1:]]
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise UserError(f"class {short(raw)} is ambiguous: {_candidates(exact, class_names)}; use the index")
    sub = [i for i in range(n) if any(q in t for t in texts[i])]
    if len(sub) == 1:
        return sub[0]
    if sub:
        word = re.compile(r"(?<![a-z0-9])" + re.escape(q) + r"(?![a-z0-9])")
        whole = [i for i in sub if any(word.search(t) for t in texts[i])]
        if len(whole) == 1:
            return whole[0]
        raise UserError(f"class {short(raw)} is ambiguous: {_candidates(whole or sub, class_names)}; "
                        "use the index or a longer name")
    raise UserError(f"unknown class {short(raw)}{_suggestion(q, texts, class_names)}")


def _suggestion(q: str, texts: list[list[str]], class_names: Sequence[str]) -> str:
    """'; did you mean ...?' with the closest names, or how to name a class."""
    keyed: dict[str, int] = {}
    for i, ts in enumerate(texts):
        for t in ts:
            keyed.setdefault(t, i)
    ids: list[int] = []
    for t in difflib.get_close_matches(q, list(keyed), n=15, cutoff=0.6):
        if keyed[t] not in ids:
            ids.append(keyed[t])
    n = len(class_names)
    return (f"; did you mean {_candidates(ids[:5], class_names)}?" if ids else
            f"; give an index 0..{n - 1} or a name such as {class_names[min(1, n - 1)]!r}")
