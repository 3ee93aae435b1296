"""WebShop's product search, ranked exactly as the original's Pyserini/Lucene index ranks it.

The original (``search_engine/`` of princeton-nlp/WebShop) indexes one document per product,
``lower(title + " " + description + " " + first bullet point + " " + option text)`` where the option text reads
``"color: black, white, and size: small, large"``, with Anserini 0.14.3 (Lucene 8): its default English analyser
(Unicode word-break tokenizer, English possessive filter, lower-casing, Lucene's 33 English stop words, Porter
stemming) and BM25 with k1 0.9, b 0.4. This module re-implements that in NumPy:

- :func:`analyse`: the analyser (:func:`word_tokens` keeps ``13.5``, ``1,000``, ``fl.oz``, ``i'm`` and
  ``a_b`` whole and splits at spaces, hyphens, slashes and other punctuation, as UAX #29 word breaks do);
- scores in float32 as Lucene computes them: ``idf = log(1 + (N - n + 0.5) / (n + 0.5))``, a query term
  repeated ``c`` times weighs ``c * idf`` (Anserini's bag-of-words query), document lengths stored in Lucene's
  one-byte norm (exact below 24 tokens, 4 significant bits above), and a term's score
  ``w - w / (1 + tf / (k1 * (1 - b + b * length / avgdl)))``; term scores summed in double, then rounded to float;
- at most 50 hits, only documents that contain a query term, ordered by score and then by asin (Anserini
  sorts ties by document id).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from nltk.stem.porter import PorterStemmer

from .catalog import Product

__all__ = ["MAX_RESULTS", "STOP_WORDS", "SearchEngine", "analyse", "product_document", "word_tokens"]

MAX_RESULTS = 50  # WebShop's SEARCH_RETURN_N
# Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET
STOP_WORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then there these they "
    "this to was will with".split()
)
# Lucene's PorterStemmer is Martin Porter's reference implementation, with its departures from the paper (words of
# one or two letters left alone, "bli" -> "ble", "logi" -> "log"): NLTK's MARTIN_EXTENSIONS mode, checked equal on
# the 4,171 distinct words of the real WebShop products, attributes and 3,000 human goals
_STEM = lru_cache(maxsize=None)(PorterStemmer(mode=PorterStemmer.MARTIN_EXTENSIONS).stem)
# UAX #29 word-break classes of the characters that join letters or digits into one word
_MID_LETTER = frozenset(":\u00b7\u0387\u05f4\u2027\ufe13\ufe55\uff1a")  # only between letters
_MID_NUM_LET = frozenset(".'\u2018\u2019\u2024\ufe52\uff07\uff0e")  # between letters or between digits
_MID_NUM = frozenset(",;\u037e\u0589\u060c\u060d\u066c\u07f8\u2044\ufe10\ufe14\ufe50\ufe54\uff0c\uff1b")
_POSSESSIVE = ("'s", "\u2019s", "\u2018s")
_K1, _B = np.float32(0.9), np.float32(0.4)


_SINGLE_CHAR_RANGES = (  # Han ideographs and Hiragana are one token per character; so are emoji ("®", "™")
    (0x3040, 0x309F),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
    (0x2194, 0x21AA),
    (0x231A, 0x23FA),
    (0x2600, 0x27BF),
    (0x2B05, 0x2B55),
    (0x1F000, 0x1FAFF),
)
_SINGLE_CHARS = frozenset("\u00a9\u00ae\u203c\u2049\u2122\u2139\u24c2\u3030\u303d\u3297\u3299")


def _classify(char: str) -> str:
    code = ord(char)
    if char in _SINGLE_CHARS or any(low <= code <= high for low, high in _SINGLE_CHAR_RANGES):
        return "1"
    if char.isdigit():
        return "N"
    if char.isalpha() or char == "_":  # "_" (ExtendNumLet) joins like a letter or digit
        return "L"
    return "-"


_kind = lru_cache(maxsize=65536)(_classify)  # product text repeats few characters: classify each once


def word_tokens(text: str) -> list[str]:
    """The words of ``text`` by Unicode word-break rules (the part of them product text needs)."""
    tokens, start, i, n = [], None, 0, len(text)
    while i < n:
        kind = _kind(text[i])
        if kind == "1":
            if start is not None:
                tokens.append(text[start:i])
                start = None
            tokens.append(text[i])
            i += 1
            continue
        if kind != "-":
            if start is None:
                start = i
            i += 1
            continue
        if start is not None and i + 1 < n:
            before, char, after = _kind(text[i - 1]), text[i], _kind(text[i + 1])
            letters = before == after == "L" and (char in _MID_LETTER or char in _MID_NUM_LET)
            digits = before == after == "N" and (char in _MID_NUM or char in _MID_NUM_LET)
            if letters or digits:
                i += 2
                continue
        if start is not None:
            tokens.append(text[start:i])
            start = None
        i += 1
    if start is not None:
        tokens.append(text[start:])
    return [t for t in tokens if t.strip("_")]


def analyse(text: str) -> list[str]:
    """Anserini's default English analyser: words, possessive ``'s`` dropped, lower case, stop words out, Porter."""
    words = []
    for word in word_tokens(text):
        if word.lower().endswith(_POSSESSIVE):
            word = word[:-2]
        word = word.lower()
        if word and word not in STOP_WORDS:
            words.append(word)
    return [_STEM(w) for w in words]


def product_document(product: Product) -> str:
    """The text WebShop indexes for a product (``search_engine/convert_product_file_format.py``)."""
    first_bullet = product.bullet_points[0] if product.bullet_points else ""
    option_text = ", and ".join(f"{name}: {', '.join(values)}" for name, values in product.options)
    return " ".join((product.title, product.description, first_bullet, option_text)).lower()


def _int4(value: int) -> int:
    """Lucene's ``SmallFloat.longToInt4``: a float with 4 significant bits, in 8 bits."""
    bits = value.bit_length()
    if bits < 4:
        return value
    shift = bits - 4
    return ((value >> shift) & 0x07) | ((shift + 1) << 3)


def _from_int4(code: int) -> int:
    bits, shift = code & 0x07, (code >> 3) - 1
    return bits if shift == -1 else (bits | 0x08) << shift


_FREE = 255 - _int4(2**31 - 1)  # 24: lengths below this are stored exactly


def norm_byte(length: int) -> int:
    """Lucene's ``SmallFloat.intToByte4``: a document length in the one byte its norm keeps."""
    return length if length < _FREE else _FREE + _int4(length - _FREE)


LENGTH_TABLE = np.array([i if i < _FREE else _FREE + _from_int4(i - _FREE) for i in range(256)], dtype=np.float32)


class SearchEngine:
    """Ranked keyword search over a product list; ``search(query)`` gives matching asins, best first.

    Results of a query are cached (the engine is read-only), which is what makes repeated group rollouts cheap.
    """

    def __init__(self, products: Sequence[Product], k1: float = 0.9, b: float = 0.4) -> None:
        if not products:
            raise ValueError("SearchEngine needs at least one product")
        self.asins = [p.asin for p in products]
        k1_, b_ = np.float32(k1), np.float32(b)
        counts = [Counter(analyse(product_document(p))) for p in products]
        lengths = np.array([sum(c.values()) for c in counts], dtype=np.int64)
        avgdl = np.float32(float(lengths.sum()) / len(products))
        # per norm byte: 1 / (k1 * ((1 - b) + b * length / avgdl)), in Lucene's float operation order
        inverse = np.float32(1) / (k1_ * ((np.float32(1) - b_) + b_ * LENGTH_TABLE / avgdl))
        self._inverse = inverse[[norm_byte(int(n)) for n in lengths]]
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for doc, c in enumerate(counts):
            for term, tf in c.items():
                docs, tfs = postings.setdefault(term, ([], []))
                docs.append(doc)
                tfs.append(tf)
        n_docs = len(products)
        self._postings = {
            term: (
                np.array(d),
                np.array(t, dtype=np.float32),
                np.float32(math.log(1 + (n_docs - len(d) + 0.5) / (len(d) + 0.5))),
            )
            for term, (d, t) in postings.items()
        }
        self._asin_rank = np.argsort(np.argsort(np.array(self.asins), kind="stable"), kind="stable")
        self.search = lru_cache(maxsize=65536)(self._search)

    def scores(self, query: str) -> dict[str, float]:
        """Lucene's float32 BM25 score of every matching product for ``query``."""
        total, matched = self._score_array(query)
        return {self.asins[i]: float(total[i]) for i in np.flatnonzero(matched)}

    def _score_array(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        total = np.zeros(len(self.asins), dtype=np.float64)
        matched = np.zeros(len(self.asins), dtype=bool)
        for term, count in Counter(analyse(query)).items():
            if term not in self._postings:
                continue
            docs, tfs, idf = self._postings[term]
            weight = np.float32(count) * idf
            term_scores = weight - weight / (np.float32(1) + tfs * self._inverse[docs])
            total[docs] += term_scores.astype(np.float64)
            matched[docs] = True
        return total.astype(np.float32), matched

    def _search(self, query: str) -> tuple[str, ...]:
        total, matched = self._score_array(query)
        hits = np.flatnonzero(matched)
        # best score first, ties by asin
        order = hits[np.lexsort((self._asin_rank[hits], -total[hits]))][:MAX_RESULTS]
        return tuple(self.asins[i] for i in order)
