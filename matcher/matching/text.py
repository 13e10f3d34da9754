"""Text handling shared by every channel: language mix, passages and lexical tokens.

Profiles and summaries come in Chinese, English or both. Three facts about a text drive matching:
its language mix (the lexical channel only helps when query and profile share a language), its passages (long
capability texts are embedded piece by piece so nothing is truncated by a model window) and its lexical tokens
(jieba words for Chinese, lower-cased words for English).
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jieba
import opencc
import Stemmer

from matcher.matching.pickling import by_fields

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
#: A word starting with digits is tried only at the start of its digit run: tried at every digit, a long run of
#: digits made matching quadratic (20,000 digits took 15 s).
_LATIN_WORD = re.compile(r"[a-z][a-z0-9]*(?:[-'][a-z0-9]+)*|(?<![0-9])[0-9]+[a-z]+[a-z0-9]*")
_SENTENCE_END = re.compile(r"(?<=[。！？；;!?\n])|(?<=\.)\s+")

# Words that carry no matching signal in a pilot-test context (they appear in almost every profile).
_STOP_EN = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "by",
        "can",
        "for",
        "from",
        "has",
        "have",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "that",
        "the",
        "their",
        "this",
        "to",
        "was",
        "we",
        "were",
        "which",
        "with",
        "will",
        "using",
        "use",
        "used",
        "based",
        "new",
        "also",
        "such",
        "than",
        "these",
        "those",
        "other",
        "more",
        "most",
        "about",
        "via",
        "per",
        "all",
        "any",
        "each",
        "both",
        "up",
        "out",
        "over",
        "under",
        "within",
        "without",
        "between",
        "after",
        "before",
        "during",
        "including",
        "include",
        "includes",
        "provide",
        "provides",
        "providing",
        "offer",
        "offers",
        "support",
        "supports",
    ]
)
_STOP_ZH = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "等",
        "在",
        "对",
        "为",
        "以",
        "于",
        "是",
        "由",
        "将",
        "其",
        "并",
        "中",
        "可",
        "已",
        "把",
        "被",
        "也",
        "就",
        "都",
        "而",
        "从",
        "向",
        "到",
        "个",
        "我们",
        "本",
        "该",
        "进行",
        "具备",
        "具有",
        "能力",
        "提供",
        "开展",
        "相关",
        "主要",
        "以及",
        "通过",
        "实现",
        "形成",
        "一种",
        "一个",
        "目前",
        "需要",
        "希望",
        "可以",
        "能够",
        "用于",
        "包括",
        "拥有",
        "建有",
        "服务",
        "技术",
        "平台",
    ]
)

logging.getLogger("jieba").setLevel(logging.WARNING)
jieba.setLogLevel(logging.WARNING)


@dataclass(frozen=True, slots=True)
class LanguageMix:
    """Share of Chinese and of Latin-script content in a text; the two shares sum to 1 (or both are 0)."""

    __reduce__ = by_fields

    zh: float
    en: float

    def overlap(self, other: LanguageMix) -> tuple[float, float]:
        """How much two texts share Chinese and share English: (1, 0) for two Chinese texts, (0, 0) for Chinese
        vs English; the two sum to at most 1."""
        return self.zh * other.zh, self.en * other.en

    @property
    def dominant(self) -> str:
        return "zh" if self.zh >= self.en else "en"


def normalize_text(text: str) -> str:
    """NFKC-normalise (full-width letters and digits become ASCII), convert Traditional Chinese to Simplified
    (with Taiwan phrasing: 軟體 → 软件, 積體電路 → 集成电路) and collapse whitespace.

    Profiles are mostly in Simplified Chinese; a Taiwan or Hong Kong summary must meet them in one script, for
    BM25 (which compares characters) and for the embedder alike.
    """
    text = unicodedata.normalize("NFKC", text)
    # Taiwan phrasing only where the text is Traditional: applied to Simplified text it rewrites words that are
    # right as they are (the city 蚌埠 would read 蚌端口, "port").
    if _CJK.search(text) and _opencc("t2s").convert(text) != text:
        text = _opencc("tw2sp").convert(text)
    return re.sub(r"[ \t\r\f\v]+", " ", text).strip()


@cache
def _opencc(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def language_mix(text: str) -> LanguageMix:
    """Estimate the language mix by counting CJK characters against Latin words (a word ~ 1.5 characters)."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN_WORD.findall(text.lower())) * 1.5
    total = cjk + latin
    if total == 0:
        return LanguageMix(0.0, 0.0)
    return LanguageMix(cjk / total, latin / total)


def is_mostly_english(text: str) -> bool:
    """Whether an English-only model can read this text (at least half of it is Latin-script words)."""
    return language_mix(text).en >= 0.5


@cache
def _jieba() -> jieba.Tokenizer:
    """jieba, taught the glossary's Chinese terms (电解槽, 质子交换膜, ...) so each is one token on both sides and
    the cross-language lexicon can find it."""
    tok = jieba.Tokenizer()
    tok.initialize()
    for term in glossary_terms():
        tok.add_word(term)
    return tok


@cache
def glossary_terms() -> tuple[str, ...]:
    """The Chinese terms of ``matcher/data/glossary.tsv``."""
    text = resources.files("matcher").joinpath("data/glossary.tsv").read_text(encoding="utf-8")
    terms = (line.partition("\t")[0].strip() for line in text.splitlines() if not line.startswith("#"))
    return tuple(t for t in terms if t and _CJK.search(t))


def jieba_words(text: str) -> list[str]:
    """jieba's plain cut of a text (words as written, spaces and punctuation included), with the glossary taught."""
    return _jieba().lcut(text)


def warm_up_tokenizer() -> None:
    """Load jieba's dictionary now (about a second) rather than inside the first request."""
    _jieba()


_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """PyStemmer objects are not thread-safe (they keep a cache), so each thread gets its own."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def english_stem(word: str) -> str:
    """Snowball (Porter 2) stem of a lower-case English word: "electrolysers" and "electrolyser" meet."""
    return _stemmer().stemWord(word)


def is_stop_word(word: str) -> bool:
    return word in _STOP_EN or word in _STOP_ZH


def surface_forms(text: str) -> dict[str, str]:
    """Each English stem in ``text`` (normalised) mapped to the first word it came from, to show matched terms as
    written."""
    stem = _stemmer().stemWord
    forms: dict[str, str] = {}
    for w in _LATIN_WORD.findall(text.lower()):
        forms.setdefault(stem(w), w)
    return forms


def lexical_tokens(text: str) -> list[str]:
    """Tokens for BM25: jieba search-mode words for Chinese runs, stemmed lower-case words for English.

    Single CJK characters and stop words are dropped; digits-only tokens are dropped (quantities differ between
    a profile and a summary without saying anything about fit). ``text`` is normalised (``normalize_text``):
    queries are, once, in ``MatchQuery.of``, and documents in their builders.
    """
    text = text.lower()
    tokens: list[str] = []
    append = tokens.append
    stem = _stemmer().stemWord
    for word in _jieba().cut_for_search(text, HMM=False):
        if not word or word.isspace():
            continue
        if "\u3400" <= word[0] <= "\u9fff" or "\uf900" <= word[0] <= "\ufaff":
            if len(word) >= 2 and word not in _STOP_ZH:
                append(word)
        elif word.isascii() and word.isalnum():
            if len(word) >= 2 and word not in _STOP_EN and not word.isdigit():
                append(stem(word))
        else:
            for w in _LATIN_WORD.findall(word):
                if len(w) >= 2 and w not in _STOP_EN:
                    append(stem(w))
    return tokens


def split_passages(text: str, max_chars: int) -> list[str]:
    """Split ``text`` into passages of at most about ``max_chars`` characters at sentence boundaries.

    A sentence longer than ``max_chars`` is cut into pieces of that length; nothing is dropped. English is counted
    at 0.4 of a CJK character per letter so passages hold a similar amount of meaning in both languages.
    ``text`` is normalised (``normalize_text``).
    """
    if not text:
        return []
    sentences = [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
    passages: list[str] = []
    current = ""
    for sentence in sentences:
        while _weight(sentence) > max_chars:
            cut = _cut_point(sentence, max_chars)
            if current:
                passages.append(current)
                current = ""
            passages.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if not sentence:
            continue
        joined = f"{current} {sentence}".strip() if current else sentence
        if current and _weight(joined) > max_chars:
            passages.append(current)
            current = sentence
        else:
            current = joined
    if current:
        passages.append(current)
    return passages


def _weight(text: str) -> float:
    cjk = len(_CJK.findall(text))
    return cjk + (len(text) - cjk) * 0.4


def _cut_point(text: str, max_chars: int) -> int:
    """Index at which ``text`` reaches weight ``max_chars``, moved back to a space when one is near."""
    weight = 0.0
    for i, ch in enumerate(text):
        weight += 1.0 if _CJK.match(ch) else 0.4
        if weight > max_chars:
            space = text.rfind(" ", 0, i)
            return space if space > i - 40 and space > 0 else max(i, 1)
    return len(text)
