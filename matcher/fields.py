"""Field types shared by every shape at the edges: plain text, coded values and row ids.

* ``PlainText`` marks a string field whose value is stored or searched: it refuses NUL and the other C0 control
  characters except tab and newline (PostgreSQL cannot store NUL at all; the rest garble logs, CSV exports and
  pages), and turns a browser's ``\\r\\n`` line breaks into ``\\n``. A lone ``\\r`` is refused like any other
  control character. The check runs before whitespace is stripped, so a control character at either end is
  refused too, never silently dropped.
* ``TIER``, ``AREA``, ``DIRECTION``, ``SERVICE_TYPE``, ``PROVINCE`` and the other coded markers document a code
  field as an enum, with each code's Chinese and English name, in the JSON schema (and so in the OpenAPI
  document). The input types (``TierCode``, ``AreaCode``, ``DirectionCode``, ``ServiceTypeCode``,
  ``ProvinceInput``) also check the code against the taxonomy while the model validates, so one request or import
  line with several bad values is refused with every one named (an ``unknown_code`` error whose context holds the
  code as sent and the valid ones); a province name becomes its code. The services check again, for callers that
  pass codes without a model.
* ``field_errors`` turns pydantic's errors into the ``FieldError`` list the API and import report.
* ``MAX_ROW_ID`` is the largest id a row can have on every backend (PostgreSQL ``INTEGER``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationError,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError, core_schema

from matcher.errors import FieldError, InvalidInput
from matcher.taxonomy import Coded, default_taxonomy

#: The largest row id on every backend: PostgreSQL ``INTEGER`` (SQLite would take up to 2**63 - 1).
MAX_ROW_ID = 2**31 - 1

#: Characters refused in text, once ``\r\n`` has become ``\n``: C0 controls except tab (09) and newline (0A),
#: DEL and the C1 controls, the line and paragraph separators, and the bidirectional overrides and isolates
#: (they make a name read differently from what it is, in pages, CSV files and logs).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

#: The same rule as a JSON-schema pattern (ECMA-262): none of those characters, except a carriage return that
#: starts a ``\r\n`` pair.
TEXT_PATTERN = r"^(?:[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]|\r\n)*$"


def plain_text(value: str) -> str:
    """``value`` with ``\\r\\n`` as ``\\n``; ``ValueError`` naming the first other control character in it."""
    value = value.replace("\r\n", "\n")
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"contains the control character U+{ord(found.group()):04X}; "
            "text may hold tabs and line breaks but no other control or direction-override characters"
        )
    return value


def _plain_text_input(value: Any) -> Any:
    return plain_text(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class _PlainText:
    """``Annotated[str, StringConstraints(...), PlainText]``: see the module docstring."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_before_validator_function(_plain_text_input, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["pattern"] = TEXT_PATTERN
        return out


PlainText = _PlainText()


@dataclass(frozen=True, slots=True)
class CodeSchema:
    """Documents a string as one of ``codes``, each described as ``code: 中文 / English``. Schema only."""

    codes: tuple[str, ...]
    description: str
    #: Other spellings the service accepts (province names): the schema then admits any string up to this
    #: length and the description says so, rather than claiming an enum the service does not enforce.
    lenient_max_length: int | None = None

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        if self.lenient_max_length is not None:
            return {
                "type": "string",
                "maxLength": self.lenient_max_length,
                "pattern": TEXT_PATTERN,
                "description": self.description,
                "examples": list(self.codes[:2]),
            }
        return {"type": "string", "enum": list(self.codes), "description": self.description}


def describe_codes(lead: str, names: Mapping[str, tuple[str, str]]) -> str:
    """``lead`` then one line per code: ``- `code`: 中文 / English``."""
    return lead + "\n\n" + "\n".join(f"- `{code}`: {zh} / {en}" for code, (zh, en) in names.items())


def coded(lead: str, names: Mapping[str, tuple[str, str]]) -> CodeSchema:
    return CodeSchema(tuple(names), describe_codes(lead, names))


def _names(items: Sequence[Coded]) -> dict[str, tuple[str, str]]:
    return {i.code: (i.name_zh, i.name_en) for i in items}


_TAXONOMY = default_taxonomy()

TIER = coded("Tier code (级别).", _names(_TAXONOMY.tiers))
AREA = coded("Key-area code (重点领域).", {a.code: (a.name_zh, a.name_en) for a in _TAXONOMY.areas})
DIRECTION = coded(
    "Industry-direction code (产业方向).",
    {d.code: (d.name_zh, d.name_en) for d in _TAXONOMY.directions.values()},
)
SERVICE_TYPE = coded("Service-type code (服务类型).", _names(_TAXONOMY.service_types))
PROVINCE_CODE = coded("Province code (省份).", _names(_TAXONOMY.provinces))
#: Province as clients may send it: a code, or the province's Chinese (with or without 省/市/自治区) or English
#: name; stored and returned as the code.
PROVINCE = CodeSchema(
    PROVINCE_CODE.codes,
    describe_codes(
        "Province (省份): a code below, or the province's Chinese name (with or without 省/市/自治区) or English "
        "name, in any case; it is stored and returned as the code.",
        _names(_TAXONOMY.provinces),
    ),
    lenient_max_length=32,
)

TECHNOLOGY_STATUSES: dict[str, tuple[str, str]] = {
    "open": ("征集中", "Open: looking for a platform"),
    "matched": ("已对接", "Matched with a platform"),
    "closed": ("已关闭", "Closed: no longer matched"),
}
TECHNOLOGY_STATUS = coded("Technology status (状态).", TECHNOLOGY_STATUSES)

VERDICTS: dict[str, tuple[str, str]] = {
    "good": ("合适", "The platform fits"),
    "bad": ("不合适", "The platform does not fit"),
}
VERDICT = coded("Verdict on a suggested platform (评价).", VERDICTS)

FEEDBACK_REASONS: dict[str, tuple[str, str]] = {
    "wrong_sector": ("行业方向不符", "Wrong sector"),
    "wrong_process": ("工艺不符", "Wrong process"),
    "wrong_scale": ("规模不符", "Wrong scale"),
    "too_early_stage": ("技术成熟度不够", "Technology at too early a stage"),
    "no_capacity": ("平台无空余能力", "Platform has no capacity"),
    "other": ("其他", "Other"),
}
FEEDBACK_REASON = coded("Why a suggested platform does not fit (原因).", FEEDBACK_REASONS)


# ---- text types of request fields (each stripped, then bounded) ----------------------------------------------
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), PlainText]
ExternalId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), PlainText]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), PlainText]
City = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), PlainText]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=300), PlainText]
ListItem = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300), PlainText]
MediumText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500), PlainText]
#: A profile or a technology description: what is embedded and matched.
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000), PlainText]


def _web_address(value: str) -> str:
    """A website is an ``http(s)://`` address: pages link to it, and any other scheme (``javascript:``) would be
    a script or a local file behind a link."""
    if value and not re.match(r"https?://[^\s/]+", value, re.IGNORECASE):
        raise ValueError("a website is an http:// or https:// address")
    return value


#: A platform's website.
WebAddress = Annotated[MediumText, AfterValidator(_web_address)]
#: A search in names (``q``).
SearchText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200), PlainText]


def known(check: Callable[[str], str]) -> AfterValidator:
    """A validator that runs a taxonomy check (``Taxonomy.check_tier``, ...) and reports an unknown value as an
    ``unknown_code`` error: the taxonomy's message, with ``value`` (as sent) and ``allowed`` in its context."""

    def validate(value: str) -> str:
        try:
            return check(value)
        except InvalidInput as exc:
            first = exc.errors[0]
            raise PydanticCustomError(
                "unknown_code", first.message, {"value": value, "allowed": first.allowed or []}
            ) from exc

    return AfterValidator(validate)


TierCode = Annotated[Code, known(_TAXONOMY.check_tier), TIER]
AreaCode = Annotated[Code, known(_TAXONOMY.check_area), AREA]
DirectionCode = Annotated[Code, known(lambda code: _TAXONOMY.check_directions([code])[0]), DIRECTION]
ServiceTypeCode = Annotated[Code, known(lambda code: _TAXONOMY.check_service_types([code])[0]), SERVICE_TYPE]
#: A province as sent: a code or a name; validated, it is the code.
ProvinceInput = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=32),
    PlainText,
    known(_TAXONOMY.normalize_province),
    PROVINCE,
]


def blank_as_none(value: Any) -> Any:
    """A blank string (an empty select) means "none", as ``null`` does; stored, it would be no valid code."""
    # Only real blanks: Python's strip() also removes the separators U+001C-U+001F, which must be refused.
    return None if isinstance(value, str) and not value.strip(" \t\n\r\u3000") else value


#: ``Annotated[X | None, BLANK_IS_NONE]``: a blank string is taken as ``None`` (for filters and provinces).
BLANK_IS_NONE = BeforeValidator(blank_as_none)
#: An optional province: blank means none.
OptionalProvince = Annotated[ProvinceInput | None, BLANK_IS_NONE]


def drop_default(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` for a field that may be left out but not sent as ``null``: its Python default is
    ``None`` (meaning "not sent"), which the schema must not advertise as a value."""
    schema.pop("default", None)


def field_path(loc: Sequence[str | int]) -> str:
    """A pydantic location as a JSON path: ``("items", 3, "directions", 0)`` -> ``items[3].directions[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def field_errors(errors: Iterable[Mapping[str, Any]], prefix: str = "") -> list[FieldError]:
    """Pydantic's errors (``ValidationError.errors()``) as ``FieldError``: field ``prefix`` + its JSON path (for
    the whole input: ``prefix`` without its final dot, or ``body``); an unknown code keeps the code as sent and the
    valid ones."""
    out: list[FieldError] = []
    for e in errors:
        ctx = e.get("ctx") or {}
        allowed, value = None, None
        if e.get("type") == "unknown_code":
            allowed, value = list(ctx.get("allowed", [])), str(ctx.get("value"))
        elif e.get("type") in ("literal_error", "enum") and "expected" in ctx:
            # A fixed set of values (a status, a verdict): its members are the quoted words of "expected".
            allowed, value = _QUOTED.findall(str(ctx["expected"])), str(e.get("input"))
        path = field_path(e.get("loc", ()))
        out.append(
            FieldError(
                f"{prefix}{path}" if path else prefix.rstrip(".") or "body",
                str(e.get("msg", "invalid")).removeprefix("Value error, "),
                allowed,
                value,
            )
        )
    return out


_QUOTED = re.compile(r"'([^']*)'")


def exc_details(exc: ValidationError) -> list[InitErrorDetails]:
    """``exc``'s errors, to be raised again with more: each keeps its type name, message, place and context."""
    return [
        InitErrorDetails(
            type=PydanticCustomError(e["type"], e["msg"], e.get("ctx")),
            loc=e["loc"],
            input=e.get("input"),
        )
        for e in exc.errors()
    ]


def validated_with(
    name: str, data: Any, handler: Callable[[Any], Any], errors: list[InitErrorDetails]
) -> Any:
    """``handler(data)`` (a model's own validation, in a ``mode="wrap"`` validator), with ``errors`` (cross-field
    rules found beforehand) reported in the same ``ValidationError`` as the fields' own, never one round later."""
    try:
        model = handler(data)
    except ValidationError as exc:
        if not errors:
            raise
        raise ValidationError.from_exception_data(name, [*exc_details(exc), *errors]) from None
    if errors:
        raise ValidationError.from_exception_data(name, errors)
    return model
