"""What the keyword index keeps of a text, and what a query looks for: one tokeniser for every keyword index.

Texts and queries go through the same steps, so that what a user types finds
what a page says:

* **Folded**: Unicode compatibility forms unified (NFKC: ligatures, full-width
  digits), case folded (``ß`` is ``ss``), accents and other combining marks
  dropped (``Kraków`` and ``Krakow`` are one word, as are ``Møller`` and
  ``Moller``, ``Małgorzata`` and ``Malgorzata``); Greek, Cyrillic, Devanagari,
  Hebrew and Arabic letters are kept as letters, without their marks.
* **Identifiers kept whole**: letters and digits joined by ``- _ . @ / : + &
  '``, with a leading backslash, are one token *and* their parts:
  ``INV-0042`` gives ``inv-0042``, ``inv`` and ``0042``; ``\\ledinnernote``
  gives ``\\ledinnernote`` and ``ledinnernote``; ``user@example.org``,
  ``2023-117``, ``2024-03-05``, ``HP-558-2291-7`` likewise. A query for the
  whole identifier matches its whole token, far rarer than its parts, so the
  document holding ``INV-0042`` outranks those holding ``INV-0420``.
* **Numbers and dates as written**: ``0042`` stays ``0042``, ``3 March 2024``
  is ``3``, ``march``, ``2024``.
* **Chinese and Japanese**, written without spaces, as overlapping pairs of
  characters (``山田太郎`` is ``山田``, ``田太``, ``太郎``), so a name is found
  inside a sentence.
* **Parts of long words** (:func:`parts`): each word of 8 letters or more
  also gives its endings of 5 letters or more, so a German compound is found
  by its last part (``Versicherung`` finds ``Haftpflichtversicherung``);
  queries also match words that begin with a query word of 5 letters or more
  (``Haftpflicht`` finds ``Haftpflichtversicherung``, ``чайник`` finds
  ``чайника``). Both count for less than a whole word.
* **Stop words** (the commonest words of English, German, French, Spanish,
  Italian and Dutch) are left out of texts and queries: a query of stop words
  alone has no keywords, and a hybrid search answers it by meaning alone.

Changing what this module gives changes what indexes hold: :data:`SIGNATURE`
names the version, and an index written under another one is filled again.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import NamedTuple

__all__ = ["SIGNATURE", "STOP_WORDS", "QueryTerm", "fold", "parts", "query_terms", "text_terms"]

#: Changes whenever the tokens of a text would: indexes written under another signature are filled again.
SIGNATURE = f"docmill-tokens-1/unicode-{unicodedata.unidata_version}"
#: Longest token kept: longer runs (base64, hashes run together) are not words anyone types.
MAX_TOKEN = 64
#: Words this long or longer also give their endings (:func:`parts`).
PART_FROM = 8
#: Shortest ending kept as a part, and shortest query word matched as the start of longer words.
SHORTEST_PART = 5

_CONNECTORS = "-_.@/:+&'"
_WORD = r"[^\W_]+"
_TOKEN = re.compile(rf"\\?{_WORD}(?:[{re.escape(_CONNECTORS)}]+{_WORD})*")
_PIECE = re.compile(_WORD)
#: Letters written without spaces between words: Han, Hiragana, Katakana (and their extensions).
_CJK = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
#: Letters that carry no combining mark to drop but that a person without them on the keyboard replaces.
_LOOKALIKES = {"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "\u0131": "i", "æ": "ae", "œ": "oe", "þ": "th",
               "ð": "d", "\u2019": "'", "\u02bc": "'", "\u2010": "-", "\u2011": "-", "\u2013": "-"}

_STOP_WORDS = """
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes auch auf aus bei
bin bis bist da damit dann das dass dem den denn der des dich die dir doch dort du durch ein eine einem einen
einer eines er es etwas euch euer eure fur gegen hat hatte hier ich ihm ihn ihnen ihr ihre im in ist jede jedem
jeden jeder jedes jene jenem jenen jener jenes kann kein keine man mein meine mich mir mit muss nach nicht nichts
noch nun nur ob oder ohne sehr sein seine sich sie sind so solche soll sondern sonst um und uns unser unter vom
von vor war waren warum was weil welche welchem welchen welcher welches wenn wer werde werden wie wieder will wir
wird wo wollen zu zum zur uber
au aux avec ce ces cette dans de des du elle elles en et eux il ils je la le les leur leurs lui ma mais me mes
moi mon ne nos notre nous ou par pas pour qu que qui sa se ses son sur ta te tes toi ton tu un une vos votre vous
el ella ellos es esta este esto los las lo para por su sus una unos unas del al con como pero sin sobre entre
il lo gli le della delle dei degli nel nella che per con non una uno
het een en van de dat die niet zijn op te voor met als aan er maar om ook dan
"""
#: Words too common to look for, folded as tokens are (``für`` is ``fur``).
STOP_WORDS = frozenset(_STOP_WORDS.split())


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    """One non-ASCII character without its marks, or its look-alike; Hangul syllables stay whole."""
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    if "\uac00" <= char <= "\ud7a3":  # decomposed, a Korean syllable would become letters of its own script
        return char
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.category(c).startswith("M"))
    return "".join(_LOOKALIKES.get(c, c) for c in bare)


def fold(text: str) -> str:
    """``text`` as tokens are made from it: NFKC, case folded, without accents and other marks."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if folded.isascii():
        return folded
    return "".join(c if c.isascii() else _fold_char(c) for c in folded)


def _words(piece: str) -> Iterator[str]:
    """A run of letters and digits as words: itself, or pairs of characters where it is Chinese or Japanese."""
    if not _CJK.search(piece):
        yield piece
        return
    at = 0
    for run in _CJK.finditer(piece):
        if run.start() > at:
            yield piece[at:run.start()]
        letters = run.group()
        if len(letters) == 1:
            yield letters
        yield from (letters[i:i + 2] for i in range(len(letters) - 1))
        at = run.end()
    if at < len(piece):
        yield piece[at:]


def _tokens(text: str) -> Iterator[str]:
    """Every token of ``text`` in reading order: identifiers whole, then their words; no stop words."""
    for match in _TOKEN.finditer(fold(text)):
        token = match.group()
        pieces = _PIECE.findall(token)
        if len(token) <= MAX_TOKEN and (len(pieces) > 1 or token.startswith("\\")):
            yield token
        for piece in pieces:
            for word in _words(piece):
                if word not in STOP_WORDS and len(word) <= MAX_TOKEN:
                    yield word


def parts(word: str) -> list[str]:
    """The endings of a long word that a compound is found by: of :data:`PART_FROM` letters or more, its endings
    of :data:`SHORTEST_PART` letters or more that start at its fourth letter or later."""
    if len(word) < PART_FROM or not word.isalpha() or _CJK.search(word):
        return []
    return [word[start:] for start in range(3, len(word) - SHORTEST_PART + 1)]


def text_terms(text: str) -> tuple[list[str], list[str]]:
    """What an index keeps of a chunk's text: its tokens in reading order, and the parts of its long words."""
    words = list(_tokens(text))
    found: list[str] = []
    for word in words:
        found += parts(word)
    return words, found


class QueryTerm(NamedTuple):
    """A word a query looks for, and whether words that begin with it count too (a query word of
    :data:`SHORTEST_PART` letters or more: ``чайник`` finds ``чайника``)."""

    word: str
    prefix: bool


def query_terms(query: str) -> list[QueryTerm]:
    """The distinct tokens of a query, in order (none when it holds only stop words)."""
    return [QueryTerm(word, len(word) >= SHORTEST_PART and word.isalpha() and not _CJK.search(word))
            for word in dict.fromkeys(_tokens(query))]
