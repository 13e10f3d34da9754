"""Chinese and English interface text. Chinese is the default; the choice is kept in a cookie.

Messages live in ``messages.json`` (one key, both languages) so a translator edits data, not code; a missing key
raises instead of showing a blank (the tests render every page in both languages).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
HTML_LANG = {"zh": "zh-CN", "en": "en"}


@cache
def messages() -> dict[str, dict[str, str]]:
    return json.loads((Path(__file__).parent / "messages.json").read_text(encoding="utf-8"))


class Translator:
    """``t("key", n=3)`` is the message in this language, formatted; ``t.name(obj)`` a bilingual name."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.html_lang = HTML_LANG[self.lang]

    def __call__(self, key: str, **values: Any) -> str:
        text = messages()[key][self.lang]
        return text.format(**values) if values else text

    def name(self, obj: Any) -> str:
        """The name of a taxonomy entry (or any object or dict with ``name_zh``/``name_en``) in this language."""
        get = obj.get if isinstance(obj, dict) else lambda k: getattr(obj, k, None)
        return get(f"name_{self.lang}") or get("name_zh") or get("name") or ""

    def coded(self, names: Mapping[str, tuple[str, str]], code: str | None) -> str:
        """The name of ``code`` in one of the domain's ``{code: (中文, English)}`` tables (introduction statuses,
        decline reasons), so a page and the API's schema say the same; an unknown code is shown as it is."""
        pair = names.get(code) if code else None
        if pair is None:
            return code or ""
        return pair[0] if self.lang == "zh" else pair[1]
