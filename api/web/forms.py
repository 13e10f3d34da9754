"""Turning HTML form values into service inputs, and validation failures into messages beside fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from pydantic import ValidationError
from starlette.datastructures import FormData, QueryParams

from matcher import IntroductionPatch, InvalidInput, ResponseIn
from matcher.fields import plain_text

Errors = dict[str, str]

#: Whitespace at either end of a value, except the control characters ``str.strip`` would also drop (vertical
#: tab, form feed, U+001C..U+001F): those must reach validation and be refused, never quietly removed.
_EDGE_SPACE = re.compile(r"^[^\S\x0b\x0c\x1c-\x1f]+|[^\S\x0b\x0c\x1c-\x1f]+$")


def strip(value: str) -> str:
    return _EDGE_SPACE.sub("", value)


def text(values: FormData | QueryParams | Mapping, name: str) -> str:
    value = values.get(name)
    return strip(value) if isinstance(value, str) else ""


def plain(values: FormData | QueryParams, name: str, errors: Errors) -> str:
    """``text`` for a value used as text but not through a request model (the search box): ``\r\n`` becomes
    ``\n``, and a control character is recorded in ``errors`` as the API's models would refuse it."""
    value = text(values, name)
    try:
        return plain_text(value)
    except ValueError as exc:
        errors[name] = str(exc)
        return value


def many(values: FormData | QueryParams, name: str) -> list[str]:
    return [strip(v) for v in values.getlist(name) if isinstance(v, str) and strip(v)]


def optional(values: FormData | QueryParams, name: str) -> str | None:
    return text(values, name) or None


def whole_number(values: FormData | QueryParams, name: str, errors: Errors, message: str) -> int | str | None:
    """An int, None when blank; anything else is recorded in ``errors`` and returned as typed (to re-show it)."""
    raw = text(values, name)
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        errors[name] = message
        return raw


#: A platform profile's text and number inputs, shared by the operator's edit page and the application form.
PROFILE_TEXT_FIELDS = ("name", "name_en", "organization", "city", "scale", "contact", "website")
PROFILE_NUMBER_FIELDS = ("trl_min", "trl_max", "capacity")


def profile_values(values: FormData, errors: Errors, whole_number_message: str) -> dict:
    """A platform profile as typed in a form (to validate, or to show again with its errors): texts, whole
    numbers, the taxonomy's choices, and the equipment one item a line."""
    typed: dict = {name: optional(values, name) for name in PROFILE_TEXT_FIELDS}
    for name in PROFILE_NUMBER_FIELDS:
        typed[name] = whole_number(values, name, errors, whole_number_message)
    return typed | {
        "province": optional(values, "province"),
        "area": text(values, "area"),
        "capabilities": text(values, "capabilities"),
        # One item a line; split on line breaks only, after the control-character check (splitlines would also
        # split on, and so silently drop, characters the API refuses).
        "equipment": [
            line.strip() for line in plain(values, "equipment", errors).split("\n") if line.strip()
        ],
        "directions": many(values, "directions"),
        "service_types": many(values, "service_types"),
    }


def localise_profile_numbers(errors: Errors, t: Callable[..., str]) -> None:
    """The profile's numeric rules in the reader's language (the schema's own messages are English); a value that
    is no whole number keeps that message."""
    for name, key in (
        ("trl_min", "error.trl_range"),
        ("trl_max", "error.trl_range"),
        ("capacity", "error.capacity"),
    ):
        if name in errors and errors[name] != t("error.whole_number"):
            errors[name] = t(key)


def field_root(path: str | None) -> str:
    """``directions[1]`` -> ``directions``: forms show one message per input."""
    return (path or "body").split("[")[0].split(".")[0]


def add_validation_errors(
    errors: Errors,
    exc: ValidationError,
    rename: Mapping[str, str] | None = None,
    messages: Mapping[tuple[str, str], str] | None = None,
    t: Callable[..., str] | None = None,
) -> None:
    """One message per input. ``messages`` replaces the schema's (English) message for a (field, error type)
    pair, e.g. ``{("q", "string_too_long"): t("error.search_too_long")}``; with ``t`` an unknown code reads in
    the page's language."""
    for e in exc.errors():
        loc = [str(x) for x in e.get("loc", ()) if not isinstance(x, int)]
        name = loc[0] if loc else "body"
        name = (rename or {}).get(name, name)
        message = (messages or {}).get((name, e.get("type", "")))
        if message is None and t is not None and e.get("type") == "unknown_code":
            message = t("error.unknown_code", value=(e.get("ctx") or {}).get("value", ""))
        errors.setdefault(name, message or e.get("msg", "invalid").removeprefix("Value error, "))


def add_domain_error(
    errors: Errors,
    exc: InvalidInput,
    rename: Mapping[str, str] | None = None,
    t: Callable[..., str] | None = None,
) -> None:
    """Each invalid field's message beside its input (an error names every bad field at once); with ``t`` an
    unknown code reads in the page's language."""
    for e in exc.errors:
        name = field_root(e.field)
        message = (
            t("error.unknown_code", value=e.value) if t is not None and e.value is not None else e.message
        )
        errors.setdefault((rename or {}).get(name, name), message)


def _loop_input(
    model: type[ResponseIn] | type[IntroductionPatch],
    values: FormData,
    names: tuple[str, ...],
    t: Callable[..., str],
) -> tuple[ResponseIn | IntroductionPatch | None, str | None]:
    """The loop's small forms (a platform's answer, an introduction's move) as the API's request model, or the
    one message to show above the form; blank fields are left out, as a JSON client would."""
    data: dict = {name: value for name in names if (value := optional(values, name)) is not None}
    if isinstance(data.get("trl_reached"), str) and data["trl_reached"].isdigit():
        data["trl_reached"] = int(data["trl_reached"])  # a form sends text; the API takes a JSON number only
    if data.get("decision") == "interested":
        data.pop(
            "reason", None
        )  # the disclosure's form has both buttons; a reason chosen goes with declining
    if data.get("decision") == "declined" and "reason" not in data:
        return None, t("error.reason_required")
    if data.get("status") == "completed" and "outcome" not in data:
        return None, t("error.outcome_required")
    try:
        return model.model_validate(data), None
    except ValidationError as exc:
        errors: Errors = {}
        add_validation_errors(
            errors,
            exc,
            messages={
                ("trl_reached", "int_parsing"): t("error.trl"),
                ("trl_reached", "int_type"): t("error.trl"),
            },
            t=t,
        )
        if "trl_reached" in errors:
            return None, t("error.trl")
        return None, t("error.invalid", detail="; ".join(f"{k}: {v}" for k, v in errors.items()))


def response_in(values: FormData, t: Callable[..., str]) -> tuple[ResponseIn | None, str | None]:
    """A platform's answer from its one-click form: ``decision``, and ``reason`` and ``message`` if given."""
    return _loop_input(ResponseIn, values, ("decision", "reason", "message"), t)  # type: ignore[return-value]


def introduction_patch(
    values: FormData, t: Callable[..., str]
) -> tuple[IntroductionPatch | None, str | None]:
    """A move of an introduction from its forms: ``status``, with ``outcome``, ``trl_reached``, ``note`` or a
    decline's ``reason`` when given."""
    return _loop_input(  # type: ignore[return-value]
        IntroductionPatch, values, ("status", "outcome", "trl_reached", "note", "reason"), t
    )
