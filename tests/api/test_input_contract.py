"""Bad input gets a 4xx problem, never a 500, on SQLite and PostgreSQL; and the OpenAPI document says so.

Control characters in text, ids beyond the database's integer type, chunked bodies over the cap, LIKE
wildcards in a search, ``null`` where a field cannot be empty, and codes documented as enums.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from api.app import create_app
from api.problems import PROBLEM_JSON, PROBLEM_REF
from matcher import Runtime, Settings, default_taxonomy
from matcher.fields import MAX_ROW_ID, TEXT_PATTERN
from matcher.pagination import encode_cursor
from matcher.platforms.models import Platform
from matcher.technologies.models import Technology
from tests.conftest import ADMIN_KEY, AUTH, make_settings
from tests.live import in_thread

HTML = {"Accept": "text/html"}

PLATFORM = {
    "external_id": "ic-platform",
    "name": "输入校验测试平台",
    "name_en": "Input Check Platform",
    "organization": "测试研究院",
    "province": "hebei",
    "city": "石家庄",
    "tier": "provincial",
    "area": "raw_materials",
    "directions": ["steel"],
    "service_types": ["process"],
    "capabilities": "高强钢热轧工艺中试验证。\n控轧控冷。",
    "equipment": ["中试轧机"],
    "scale": "5000 t/a",
    "contact": "pilot@example.cn",
    "website": "https://pilot.example.cn",
}
TECHNOLOGY = {
    "external_id": "ic-technology",
    "title": "高强钢新工艺",
    "summary": "我们开发了一种高强汽车用钢控轧控冷新工艺，需要热轧中试线验证。",
    "directions": ["steel"],
    "service_types": ["process"],
    "preferred_provinces": ["hebei"],
    "contact": "lab@example.edu.cn",
}
MATCH = {
    "text": "高强钢热轧中试",
    "province": "hebei",
    "area": "raw_materials",
    "directions": ["steel"],
    "service_types": ["process"],
    "tier": ["national"],
}
POISON = "a\x00b"


def _resolve(schema: dict, spec: dict) -> dict:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _text_fields(model: str, spec: dict) -> dict[str, Any]:
    """Each property of a request model that holds text, with a poisoned value of its shape."""
    fields: dict[str, Any] = {}
    for name, prop in spec["components"]["schemas"][model]["properties"].items():
        for option in prop.get("anyOf", [prop]):
            if option.get("type") == "string":
                fields[name] = POISON
            elif option.get("type") == "array" and option["items"].get("type") == "string":
                fields[name] = [POISON]
    return fields


def assert_problem(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith(PROBLEM_JSON)
    body = r.json()
    assert body["status"] == status
    return body


# ---- control characters ---------------------------------------------------------------------------------------
def test_every_text_field_of_every_request_refuses_nul(
    small_client: TestClient, small_runtime: Runtime
) -> None:
    """NUL in any text field is 422 naming the field, and nothing is stored (PostgreSQL used to answer 500)."""
    spec = small_client.get("/openapi.json").json()
    created = small_client.post("/v1/technologies", json=TECHNOLOGY | {"external_id": None}, headers=AUTH)
    assert created.status_code == 201, created.text
    tech_id = created.json()["id"]
    cases = [
        ("post", "/v1/platforms", "PlatformCreate", PLATFORM),
        ("patch", "/v1/platforms/1", "PlatformUpdate", PLATFORM),
        ("post", "/v1/technologies", "TechnologyCreate", TECHNOLOGY),
        ("patch", f"/v1/technologies/{tech_id}", "TechnologyUpdate", TECHNOLOGY),
        ("post", "/v1/match", "MatchRequest", MATCH),
    ]
    checked = 0
    for method, path, model, valid in cases:
        fields = _text_fields(model, spec)
        assert {"name", "capabilities", "summary", "text"} & set(fields), model
        for name, poisoned in fields.items():
            r = small_client.request(method, path, json=valid | {name: poisoned}, headers=AUTH)
            problem = assert_problem(r, 422)
            assert problem["errors"][0]["field"].startswith(name), (model, name, problem)
            assert (
                "U+0000" in problem["errors"][0]["message"] or name == "status"
            )  # a Literal says what it takes
            checked += 1
    assert checked >= 40
    bulk = small_client.post(
        "/v1/platforms/bulk", json={"items": [PLATFORM | {"name": POISON}]}, headers=AUTH
    )
    assert assert_problem(bulk, 422)["errors"][0]["field"] == "items[0].name"
    with small_runtime.session() as s:
        assert len(s.exec(select(Platform)).all()) == 3
        assert [t.id for t in s.exec(select(Technology)).all()] == [tech_id]
        assert s.get(Platform, 1).name == "PEM电解水制氢中试平台"  # type: ignore[union-attr]


def test_every_text_query_parameter_refuses_nul(small_client: TestClient) -> None:
    """``GET /v1/platforms?q=%00`` (anonymous) answered 500 on PostgreSQL; every string parameter is 422 now. The
    admin key is sent so that an admin-only route checks its parameters rather than answering 401."""
    spec = small_client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None or "{" in path:
            continue
        for param in get.get("parameters", []):
            options = param["schema"].get("anyOf", [param["schema"]])
            if param["in"] == "query" and any(o.get("type") == "string" for o in options):
                r = small_client.get(path, params={param["name"]: POISON}, headers=AUTH)
                assert_problem(r, 422)
                checked += 1
    assert checked >= 8  # q, area, direction, tier, province, service_type, cursor, status, format


def test_registering_a_webhook_refuses_nul_in_its_text(tmp_path: Path) -> None:
    """Registration only, never a delivery (no worker runs beside a runtime passed in). PostgreSQL answered 500."""
    rt = Runtime.open(make_settings(tmp_path, webhook_allow_private=True))
    try:
        with TestClient(create_app(runtime=rt)) as client:
            assert client.post("/v1/platforms", json=PLATFORM, headers=AUTH).status_code == 201
            for body in (
                {"url": "http://127.0.0.1:9/hook", "description": POISON},
                {"url": "http://127.0.0.1:9/ho\x00ok"},
            ):
                r = client.post("/v1/platforms/1/webhooks", json=body, headers=AUTH)
                assert assert_problem(r, 422)["errors"][0]["field"] in body
            assert client.get("/v1/platforms/1/webhooks", headers=AUTH).json() == []
    finally:
        rt.close()


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x1f"])
def test_control_characters_are_refused_even_at_either_end(small_client: TestClient, char: str) -> None:
    """Refused, never stripped: ``str.strip`` would quietly drop U+000B, U+000C and U+001C..U+001F at the ends."""
    for text in (f"Test{char}platform", f"Test platform{char}", f"{char}Test platform"):
        r = small_client.post("/v1/platforms", json=PLATFORM | {"name": text}, headers=AUTH)
        assert assert_problem(r, 422)["errors"][0]["field"] == "name"


def test_the_documented_error_example_is_what_the_api_answers(small_client: TestClient) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    example = doc.split("<!-- example: checked by tests/api/test_input_contract.py -->", 1)[1]
    documented = json.loads(example.split("```json", 1)[1].split("```", 1)[0])
    assert small_client.post("/v1/match", json={"text": "a\x00b"}).json() == documented


def test_tabs_and_line_breaks_are_kept_and_crlf_becomes_lf(small_client: TestClient) -> None:
    body = TECHNOLOGY | {"title": "a\tb", "summary": "第一行\r\n第二行\n第三行\tend"}
    r = small_client.post("/v1/technologies", json=body, headers=AUTH)
    assert r.status_code == 201, r.text
    stored = small_client.get(f"/v1/technologies/{r.json()['id']}").json()
    assert stored["title"] == "a\tb"
    assert stored["summary"] == "第一行\n第二行\n第三行\tend"
    lone_cr = small_client.post("/v1/match", json={"text": "line one\rline two"})
    assert assert_problem(lone_cr, 422)["errors"][0]["field"] == "text"


def test_web_forms_refuse_control_characters(small_client: TestClient, small_runtime: Runtime) -> None:
    """The operator's profile form, the researcher's submission and the directory search: 422 pages, nothing
    stored; a search with a NUL is not a server error either."""
    from matcher import create_platform_key
    from tests.web.test_web_pages import _sign_in, csrf_of

    _, key = create_platform_key(small_runtime.db, 1)
    _sign_in(small_client, key)
    form = small_client.get("/platforms/1/edit", headers=HTML).text
    fields = {
        "csrf_token": csrf_of(form),
        "name": "PEM电解水制氢中试平台",
        # The form sends the province it shows (an operator may not change it).
        "province": small_client.get("/v1/platforms/1").json()["province"] or "",
        "area": "emerging_future",
        "capabilities": "质子交换膜电解槽\x00电堆组装",
        "active": "on",
    }
    r = small_client.post("/platforms/1/edit", data=fields, headers=HTML)
    assert r.status_code == 422 and 'id="capabilities-error"' in r.text
    crlf = small_client.post(
        "/platforms/1/edit",
        data=fields | {"capabilities": "质子交换膜电解槽\r\n电堆组装"},
        follow_redirects=False,
    )
    assert crlf.status_code == 303, crlf.text[:300]
    with small_runtime.session() as s:
        assert s.get(Platform, 1).capabilities == "质子交换膜电解槽\n电堆组装"  # type: ignore[union-attr]

    token = csrf_of(small_client.get("/?text=x", headers=HTML).text)
    submit = small_client.post(
        "/technologies",
        data={"text": "PEM电解槽\x07耐久性", "contact": "lab@example.cn", "csrf_token": token},
        headers=HTML,
    )
    assert submit.status_code == 422
    with small_runtime.session() as s:
        assert s.exec(select(Technology)).first() is None

    directory = small_client.get("/platforms", params={"q": "\x00"}, headers=HTML)
    assert directory.status_code == 422 and 'id="q-error"' in directory.text
    assert small_client.get("/platforms", params={"q": "x" * 201}, headers=HTML).status_code == 422
    search = small_client.get("/", params={"text": "\x00电解"}, headers=HTML)
    assert search.status_code == 422 and 'id="text-error"' in search.text and "U+0000" in search.text


# ---- ids out of range ------------------------------------------------------------------------------------------
#: Out of range, not a number, or another spelling of a valid id (which would let several paths alias one row).
BAD_IDS = ["0", "-1", str(MAX_ROW_ID + 1), str(2**63), str(10**30), "abc", "1.5", "1.0", "01", "+1"]


def test_every_id_in_a_path_is_404_when_no_row_can_have_it(small_client: TestClient) -> None:
    """Ids beyond the integer type (2**31 on PostgreSQL, 2**63 on SQLite) answered 500; any id out of 1..2**31-1,
    or not a number, names nothing: 404 problem, on every route, one id at a time."""
    spec = small_client.get("/openapi.json").json()
    checked = 0
    for path, operations in spec["paths"].items():
        # A private link's token is not an id: any string, and an unknown or malformed one is 404 (its own test).
        names = [p.strip("{}") for p in path.split("/") if p.startswith("{") and p != "{token}"]
        for method, operation in operations.items():
            for name in names:
                params = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "path"}
                assert params[name].get("minimum") == 1 and params[name].get("maximum") == MAX_ROW_ID, (
                    method,
                    path,
                    name,
                )
                for bad in BAD_IDS:
                    url = path
                    for other in names:
                        url = url.replace("{" + other + "}", bad if other == name else "1")
                    r = small_client.request(method, url, headers=AUTH)
                    assert_problem(r, 404)
                    checked += 1
    assert checked > 100
    assert small_client.get(f"/v1/platforms/{MAX_ROW_ID}").status_code == 404
    assert small_client.get("/v1/platforms/1").status_code == 200


def test_web_pages_with_an_id_out_of_range_are_404(small_client: TestClient, small_runtime: Runtime) -> None:
    from matcher import create_platform_key
    from tests.web.test_web_pages import _sign_in, csrf_of

    _, key = create_platform_key(small_runtime.db, 1)
    _sign_in(small_client, key)
    token = csrf_of(small_client.get("/platforms/1/inbox", headers=HTML).text)
    for bad in BAD_IDS:
        for path in (f"/platforms/{bad}", f"/platforms/{bad}/edit", f"/platforms/{bad}/inbox"):
            r = small_client.get(path, headers=HTML)
            assert r.status_code == 404 and r.headers["content-type"].startswith("text/html"), (
                path,
                r.text[:200],
            )
        for path in (
            f"/platforms/{bad}/edit",
            f"/platforms/{bad}/inbox/1/read",
            f"/platforms/1/inbox/{bad}/read",
        ):
            r = small_client.post(path, data={"csrf_token": token}, headers=HTML)
            assert r.status_code == 404, (path, r.status_code, r.text[:200])


def test_a_cursor_beyond_the_id_range_is_422_not_500(small_client: TestClient) -> None:
    for cursor in (encode_cursor(2**63), encode_cursor(10**30), encode_cursor(-(2**63) - 1)):
        for path in ("/v1/platforms", "/v1/technologies"):
            body = assert_problem(small_client.get(path, params={"cursor": cursor}), 422)
            assert body["errors"][0]["field"] == "cursor"


# ---- body size -------------------------------------------------------------------------------------------------
def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"text": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


def test_a_chunked_body_over_the_cap_is_413(small_client: TestClient) -> None:
    """Without Content-Length the body is counted as it is read; going over answered 400, now 413."""
    cap = small_client.app.state.runtime.settings.max_body_bytes  # type: ignore[attr-defined]
    r = small_client.post("/v1/match", content=_chunks(cap + 1), headers={"Content-Type": "application/json"})
    assert "content-length" not in r.request.headers
    assert_problem(r, 413)
    r = small_client.post(
        "/v1/platforms/bulk", content=_chunks(cap + 1), headers=AUTH | {"Content-Type": "application/json"}
    )
    assert_problem(r, 413)
    form = small_client.post(
        "/operator/sign-in",
        content=(b"key=" + b"k" * 65536 for _ in range(cap // 65536 + 2)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 413


@pytest.fixture
def live_small_cap(small_runtime: Runtime) -> Iterator[str]:
    """The app under a live uvicorn, with a 64 KiB body cap."""
    settings = small_runtime.settings.model_copy(update={"max_body_bytes": 65536})
    with in_thread(create_app(settings=settings, runtime=small_runtime)) as base:
        yield base


def test_a_chunked_upload_to_a_live_server_over_the_cap_is_413(live_small_cap: str) -> None:
    with httpx.Client(base_url=live_small_cap, timeout=30) as client:
        over = client.post(
            "/v1/match", content=_chunks(128 * 1024, 8192), headers={"Content-Type": "application/json"}
        )
        assert over.request.headers.get("transfer-encoding") == "chunked"
        assert_problem(over, 413)
        under = client.post(
            "/v1/match",
            content=iter([b'{"text": "hydrogen ', b"electrolyser ", b'stack testing"}']),
            headers={"Content-Type": "application/json"},
        )
        assert under.status_code == 200 and under.json()["matches"]


# ---- searching names -------------------------------------------------------------------------------------------
def test_q_is_literal_not_a_like_pattern(small_client: TestClient) -> None:
    """``q=%`` listed every platform; ``%``, ``_`` and the escape character match only themselves."""
    for name in ("纯度99%中试平台", "A_B Pilot Line", "Back\\slash Pilot"):
        body = PLATFORM | {"name": name, "external_id": None}
        assert small_client.post("/v1/platforms", json=body, headers=AUTH).status_code == 201

    def names(q: str) -> list[str]:
        r = small_client.get("/v1/platforms", params={"q": q})
        assert r.status_code == 200, r.text
        return [p["name"] for p in r.json()["items"]]

    assert names("%") == ["纯度99%中试平台"]
    assert names("99%中") == ["纯度99%中试平台"]
    assert names("_") == ["A_B Pilot Line"]
    assert names("a_b") == ["A_B Pilot Line"]
    assert names("\\") == ["Back\\slash Pilot"]
    assert names("%%") == [] and names("_%") == []
    assert names("pem") == ["PEM电解水制氢中试平台"]


# ---- null and blanks -------------------------------------------------------------------------------------------
def test_fields_that_cannot_be_empty_refuse_null(small_client: TestClient) -> None:
    spec = small_client.get("/openapi.json").json()["components"]["schemas"]
    refused = {
        "PlatformUpdate": [
            "name",
            "tier",
            "area",
            "capabilities",
            "active",
            "directions",
            "service_types",
            "equipment",
        ],
        "TechnologyUpdate": ["summary", "status"],
    }
    for model, names in refused.items():
        for name in names:
            prop = spec[model]["properties"][name]
            assert "null" not in str(prop), (model, name, prop)
            assert "default" not in prop
    for name in refused["PlatformUpdate"]:
        assert_problem(small_client.patch("/v1/platforms/1", json={name: None}, headers=AUTH), 422)
    # What may be cleared still can be.
    cleared = small_client.patch("/v1/platforms/1", json={"province": None, "capacity": None}, headers=AUTH)
    assert cleared.status_code == 200 and cleared.json()["province"] is None


def test_a_blank_province_or_filter_means_none(small_client: TestClient) -> None:
    """A blank province was stored as "" (no valid code, so the response broke its own schema)."""
    r = small_client.patch("/v1/platforms/1", json={"province": ""}, headers=AUTH)
    assert r.status_code == 200 and r.json()["province"] is None
    r = small_client.post("/v1/platforms", json=PLATFORM | {"province": "  "}, headers=AUTH)
    assert r.status_code == 201 and r.json()["province"] is None
    listed = small_client.get("/v1/platforms", params={"area": "", "tier": "", "province": "", "q": ""})
    assert listed.status_code == 200 and len(listed.json()["items"]) == 4
    # Names are still accepted for provinces, as the description says.
    for name in ("河北省", "河北", "Hebei", "hebei"):
        found = small_client.get("/v1/platforms", params={"province": name}).json()["items"]
        assert [p["external_id"] for p in found] == ["s-steel"], name


# ---- every error at once ---------------------------------------------------------------------------------------
def _by_field(problem: dict) -> dict[str, dict]:
    return {e["field"]: e for e in problem["errors"]}


def test_a_match_request_with_several_bad_fields_names_every_one(small_client: TestClient) -> None:
    """A bad tier, area, province and direction (and a TRL out of range) are one 422 naming each, with the code
    sent and the valid ones: not the first alone."""
    bad = {
        "text": "x",
        "tier": ["national", "gold"],
        "area": "mining",
        "province": "Atlantis",
        "directions": ["nope", "hydrogen", "nada"],
        "trl": 12,
    }
    body = assert_problem(small_client.post("/v1/match", json=bad), 422)
    errors = _by_field(body)
    assert set(errors) == {"tier[1]", "area", "province", "directions[0]", "directions[2]", "trl"}
    tax = default_taxonomy()
    assert errors["tier[1]"]["value"] == "gold" and errors["tier[1]"]["allowed"] == tax.tier_codes
    assert errors["area"]["value"] == "mining" and errors["area"]["allowed"] == tax.area_codes
    assert errors["province"]["value"] == "Atlantis" and errors["province"]["allowed"] == tax.province_codes
    assert errors["directions[2]"]["value"] == "nada" and "hydrogen" in errors["directions[2]"]["allowed"]
    assert "allowed" not in errors["trl"] and "value" not in errors["trl"]  # only codes carry them
    assert body["detail"].startswith("directions[0]: Unknown industry direction 'nope'.")
    assert body["detail"].endswith("; and 1 more")  # the detail sums up five; `errors` holds them all


def test_a_platform_with_several_bad_fields_names_every_one_and_stores_nothing(
    small_client: TestClient,
) -> None:
    before = small_client.get("/v1/platforms").json()["items"]
    bad = PLATFORM | {
        "tier": "gold",
        "area": "mining",
        "province": "Atlantis",
        "directions": ["steel", "nope"],
        "service_types": ["testing"],
        "trl_min": 7,
        "trl_max": 3,
        "capacity": -1,
    }
    errors = _by_field(assert_problem(small_client.post("/v1/platforms", json=bad, headers=AUTH), 422))
    assert set(errors) == {
        "tier",
        "area",
        "province",
        "directions[1]",
        "service_types[0]",
        "trl_min",
        "capacity",
    }
    assert errors["trl_min"]["message"] == "trl_min (7) must not be greater than trl_max (3)"
    assert small_client.get("/v1/platforms").json()["items"] == before


def test_a_reversed_trl_range_is_an_error_on_trl_min_not_the_body(small_client: TestClient) -> None:
    r = small_client.post("/v1/platforms", json=PLATFORM | {"trl_min": 8, "trl_max": 2}, headers=AUTH)
    (error,) = assert_problem(r, 422)["errors"]
    assert error["field"] == "trl_min"
    # A range given as strings is read as the fields read it; an equal range is fine.
    r = small_client.post("/v1/platforms", json=PLATFORM | {"trl_min": "8", "trl_max": "2"}, headers=AUTH)
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["trl_min"]
    ok = small_client.post("/v1/platforms", json=PLATFORM | {"trl_min": 5, "trl_max": 5}, headers=AUTH)
    assert ok.status_code == 201, ok.text


def test_a_bulk_write_names_every_bad_field_of_every_item(small_client: TestClient) -> None:
    items = [
        PLATFORM | {"external_id": "b-0"},
        PLATFORM | {"external_id": "b-1", "tier": "gold", "directions": ["nope"]},
        PLATFORM | {"external_id": "b-2", "trl_min": 9, "trl_max": 1},
    ]
    r = small_client.post("/v1/platforms/bulk", json={"items": items}, headers=AUTH)
    errors = _by_field(assert_problem(r, 422))
    assert set(errors) == {"items[1].tier", "items[1].directions[0]", "items[2].trl_min"}
    assert small_client.get("/v1/platforms", params={"q": "输入校验"}).json()["items"] == []


def test_a_technology_with_several_bad_codes_names_every_one(small_client: TestClient) -> None:
    bad = TECHNOLOGY | {
        "directions": ["nope", "steel", "nada"],
        "service_types": ["testing"],
        "preferred_provinces": ["hebei", "Atlantis"],
        "trl": 0,
    }
    errors = _by_field(assert_problem(small_client.post("/v1/technologies", json=bad, headers=AUTH), 422))
    assert set(errors) == {
        "directions[0]",
        "directions[2]",
        "service_types[0]",
        "preferred_provinces[1]",
        "trl",
    }
    assert errors["preferred_provinces[1]"]["value"] == "Atlantis"


def test_list_filters_name_every_unknown_code(small_client: TestClient) -> None:
    r = small_client.get("/v1/platforms", params={"area": "mining", "tier": "gold", "province": "Atlantis"})
    assert set(_by_field(assert_problem(r, 422))) == {"area", "tier", "province"}


def test_a_patch_names_a_reversed_trl_range_with_the_other_bad_fields(small_client: TestClient) -> None:
    r = small_client.patch("/v1/platforms/1", json={"trl_min": 9, "trl_max": 2, "capacity": -1}, headers=AUTH)
    assert set(_by_field(assert_problem(r, 422))) == {"trl_min", "capacity"}


def test_a_bulk_write_names_a_repeated_external_id_with_the_other_errors(small_client: TestClient) -> None:
    items = [
        PLATFORM | {"external_id": "dup"},
        PLATFORM | {"external_id": "dup", "tier": "gold"},
    ]
    r = small_client.post("/v1/platforms/bulk", json={"items": items}, headers=AUTH)
    assert set(_by_field(assert_problem(r, 422))) == {"items[1].tier", "items[1].external_id"}


def test_a_value_outside_a_fixed_set_comes_with_the_allowed_ones(small_client: TestClient) -> None:
    r = small_client.get("/v1/technologies", params={"status": "done"})
    (error,) = assert_problem(r, 422)["errors"]
    assert error["field"] == "status" and error["value"] == "done"
    assert set(error["allowed"]) == {"open", "matched", "closed"}


def test_a_website_is_a_web_address(small_client: TestClient) -> None:
    r = small_client.post("/v1/platforms", json=PLATFORM | {"website": "javascript:alert(1)"}, headers=AUTH)
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["website"]
    r = small_client.patch("/v1/platforms/1", json={"website": "file:///etc/passwd"}, headers=AUTH)
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["website"]


# ---- the document ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The OpenAPI document; it needs no database, so none is opened."""
    return create_app(make_settings_without_database(tmp_path_factory.mktemp("spec"))).openapi()


def make_settings_without_database(folder: Path) -> Settings:
    return Settings(database_url=f"sqlite:///{folder / 'unused.db'}", index_dir=folder, admin_key=ADMIN_KEY)


@pytest.mark.backend_independent
def test_codes_are_enums_with_chinese_and_english_names(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    tax = default_taxonomy()

    def enum_of(schema: dict) -> dict:
        schema = _resolve(schema, spec)
        for option in schema.get("anyOf", [schema]):
            if option.get("type") == "array":
                option = option["items"]
            if "enum" in option:
                return option
        raise AssertionError(f"no enum in {schema}")

    expected = {
        "tier": (tax.tier_codes, [(t.name_zh, t.name_en) for t in tax.tiers]),
        "area": (tax.area_codes, [(a.name_zh, a.name_en) for a in tax.areas]),
        "directions": (list(tax.directions), [(d.name_zh, d.name_en) for d in tax.directions.values()]),
        "service_types": (tax.service_type_codes, [(s.name_zh, s.name_en) for s in tax.service_types]),
    }
    for model in ("PlatformCreate", "PlatformUpdate", "PlatformRead", "MatchRequest", "MatchOut"):
        for name, (codes, names) in expected.items():
            if name not in schemas[model]["properties"]:
                continue
            found = enum_of(schemas[model]["properties"][name])
            assert found["enum"] == codes, (model, name)
            for code, (zh, en) in zip(codes, names, strict=True):
                assert f"`{code}`: {zh} / {en}" in found["description"], (model, name, code)
    # Provinces: codes or names are accepted, so requests document the codes without claiming an enum; responses
    # carry the code.
    province = _resolve(schemas["PlatformCreate"]["properties"]["province"], spec)["anyOf"][0]
    assert "enum" not in province and all(
        f"`{p.code}`: {p.name_zh}" in province["description"] for p in tax.provinces
    )
    assert enum_of(schemas["PlatformRead"]["properties"]["province"])["enum"] == tax.province_codes
    assert enum_of(schemas["TechnologyUpdate"]["properties"]["status"])["enum"] == [
        "open",
        "matched",
        "closed",
    ]
    reason = enum_of(schemas["FeedbackCreate"]["properties"]["reason"])
    assert (
        "too_early_stage" in reason["enum"]
        and "`wrong_sector`: 行业方向不符 / Wrong sector" in reason["description"]
    )
    params = {p["name"]: p["schema"] for p in spec["paths"]["/v1/platforms"]["get"]["parameters"]}
    for name, codes in (
        ("area", tax.area_codes),
        ("tier", tax.tier_codes),
        ("service_type", tax.service_type_codes),
    ):
        assert enum_of(params[name])["enum"] == codes
    status = spec["paths"]["/v1/technologies"]["get"]["parameters"][0]
    assert enum_of(status["schema"])["enum"] == ["open", "matched", "closed"]


@pytest.mark.backend_independent
def test_every_request_text_field_documents_the_control_character_rule(spec: dict) -> None:

    def strings(schema: dict) -> Iterator[dict]:
        schema = _resolve(schema, spec)
        for option in schema.get("anyOf", [schema]):
            option = _resolve(option, spec)
            if option.get("type") == "array":
                yield from strings(option["items"])
            elif option.get("type") == "object":
                for prop in option.get("properties", {}).values():
                    yield from strings(prop)
            elif option.get("type") == "string":
                yield option

    checked = 0
    for operations in spec["paths"].values():
        for operation in operations.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            schemas = [body["schema"]] if body else []
            schemas += [
                p["schema"] for p in operation.get("parameters", []) if p["name"] not in ("cursor", "format")
            ]
            for schema in schemas:
                for string in strings(schema):
                    pattern = string.get("pattern")  # the shared rule, or a stricter one of its own (URLs)
                    refuses_controls = pattern == TEXT_PATTERN or (
                        pattern is not None
                        and all(re.search(pattern, f"a{c}b") is None for c in "\x00\x01\x1f")
                    )
                    assert "enum" in string or refuses_controls, string
                    checked += 1
    assert checked > 60


@pytest.mark.backend_independent
def test_every_error_status_is_documented_as_a_problem(spec: dict) -> None:
    assert spec["components"]["schemas"]["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            label = f"{method.upper()} {path}"
            for status, response in responses.items():
                if int(status) >= 400 and path != "/readyz":
                    assert response["content"] == {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}, label
            if operation.get("parameters") or "requestBody" in operation:
                assert "422" in responses, label
            if "requestBody" in operation:
                assert {"400", "413"} <= set(responses), label
            if "{" in path:
                assert "404" in responses, label
            if path.startswith("/v1/"):  # a bad key is a 401 on every /v1 route, public ones too
                assert "401" in responses, label
    admin_only = spec["paths"]["/v1/platforms"]["post"]["responses"]
    assert {"401", "403", "409"} <= set(admin_only)
    assert {"403", "409"} <= set(spec["paths"]["/v1/platforms/{platform_id}"]["patch"]["responses"])
    assert "403" not in spec["paths"]["/v1/platforms"]["get"]["responses"]  # public: no role can be refused
