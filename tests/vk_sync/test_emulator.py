"""The VK emulator speaks VK's wire format: shapes, errors, execute, limits and faults, over real HTTP."""

import json
import time

import pytest
import requests

from tests.emulators.vk import VkEmulator, VkError, synthetic_profile

FAST = "fast-token-secret"  # a token the rps limit does not get in the way of
USER = "user-token-secret"
COMMUNITY = "community-token-secret"


@pytest.fixture
def vk():
    with VkEmulator() as emulator:
        emulator.add_token(FAST, "user", label="fast", rps=10_000, admin={1: 3})
        emulator.add_token(USER, "user", label="user")
        emulator.add_token(COMMUNITY, "community", label="community", group_id=1)
        emulator.add_group(1, "Demo community", screen_name="demo", members=2500)
        emulator.add_group(2, "Small", members=[30, 10, 20, 10])
        yield emulator


def api(vk, method, token=FAST, **params):
    response = requests.post(vk.url + method, data={"access_token": token, "v": "5.199", **params}, timeout=10)
    assert response.status_code == 200
    return response.json()


def execute(vk, code, token=FAST, **args):
    return api(vk, "execute", token, code=code, **args)


MEMBERS_CODE = """var offsets = %s;
var out = [];
var i = 0;
while (i < offsets.length) {
  var r = API.groups.getMembers({"group_id": %d, "offset": offsets[i], "count": 1000, "sort": "id_asc"});
  if (r) { out.push({"o": offsets[i], "c": r.count, "i": r.items}); } else { out.push({"o": offsets[i], "c": -1}); }
  i = i + 1;
}
return out;"""


# --- shapes -----------------------------------------------------------------------
def test_url_looks_like_vk_api_url(vk):
    assert vk.url == f"http://127.0.0.1:{vk.port}/method/"


def test_groups_get_by_id_new_shape_with_admin_level_and_members_count(vk):
    body = api(vk, "groups.getById", group_ids="demo,club2", fields="members_count")
    groups = body["response"]["groups"]
    assert body["response"]["profiles"] == []
    assert [(g["id"], g["screen_name"], g["members_count"]) for g in groups] == [(1, "demo", 2500), (2, "club2", 3)]
    assert groups[0]["is_admin"] == 1 and groups[0]["admin_level"] == 3
    assert groups[1]["is_admin"] == 0 and "admin_level" not in groups[1]
    assert "members_count" not in api(vk, "groups.getById", group_id="1")["response"]["groups"][0]


def test_groups_get_by_id_old_shape_is_a_bare_list(vk):
    vk.old_shapes = True
    body = api(vk, "groups.getById", group_id="public1", fields="members_count")
    assert isinstance(body["response"], list)
    assert body["response"][0]["id"] == 1 and body["response"][0]["members_count"] == 2500


def test_community_token_reads_its_own_group_by_default(vk):
    group = api(vk, "groups.getById", COMMUNITY)["response"]["groups"][0]
    assert group["id"] == 1 and group["admin_level"] == 3


def test_error_shape_echoes_params_but_never_the_token(vk):
    body = api(vk, "groups.getById", group_id="no_such_name")
    error = body["error"]
    assert error["error_code"] == 100
    assert "group_ids is undefined" in error["error_msg"]
    keys = {p["key"]: p["value"] for p in error["request_params"]}
    assert keys["method"] == "groups.getById" and keys["group_id"] == "no_such_name" and keys["v"] == "5.199"
    assert "access_token" not in keys and FAST not in json.dumps(body)


def test_missing_or_unknown_token_version_and_method(vk):
    assert requests.post(vk.url + "users.get", data={"v": "5.199"}, timeout=5).json()["error"]["error_code"] == 5
    assert api(vk, "users.get", "nope", user_ids="1")["error"]["error_code"] == 5
    no_v = requests.post(vk.url + "users.get", data={"access_token": FAST, "user_ids": "1"}, timeout=5).json()
    assert no_v["error"]["error_code"] == 8
    assert api(vk, "wall.nothing")["error"]["error_code"] == 3


def test_get_also_works_and_tokens_in_the_query_are_counted(vk):
    body = requests.get(vk.url + "users.get", params={"access_token": FAST, "v": "5.199", "user_ids": "5"}, timeout=5)
    assert body.json()["response"][0]["id"] == 5
    assert vk.tokens_in_query == 1
    api(vk, "users.get", user_ids="6")
    assert vk.tokens_in_query == 1


def test_get_members_pages_sorts_and_counts(vk):
    members = vk.groups[1].members
    assert members == sorted(set(members)) and len(members) == 2500
    first = api(vk, "groups.getMembers", group_id="1", offset="0", count="1000")["response"]
    assert first["count"] == 2500 and first["items"] == members[:1000]
    last = api(vk, "groups.getMembers", group_id="demo", offset="2000", count="5000")["response"]
    assert last["items"] == members[2000:]  # count is capped at 1000: 500 are left
    desc = api(vk, "groups.getMembers", group_id="1", offset="10", count="5", sort="id_desc")["response"]
    assert desc["items"] == members[::-1][10:15]
    assert api(vk, "groups.getMembers", group_id="2")["response"] == {"count": 3, "items": [10, 20, 30]}
    assert api(vk, "groups.getMembers", group_id="1", count="0")["response"] == {"count": 2500, "items": []}
    assert vk.requests["groups.getMembers"] == 5 and vk.calls["groups.getMembers"] == 5


def test_get_members_with_fields_answers_user_objects(vk):
    items = api(vk, "groups.getMembers", group_id="2", fields="sex,city,last_seen")["response"]["items"]
    assert [u["id"] for u in items] == [10, 20, 30]
    assert all("first_name" in u for u in items)


def test_time_sort_puts_late_joiners_last(vk):
    vk.members_change(2, join=[5, 40])
    items = api(vk, "groups.getMembers", group_id="2", sort="time_asc")["response"]["items"]
    assert items == [10, 20, 30, 5, 40]
    assert api(vk, "groups.getMembers", group_id="2", sort="time_desc")["response"]["items"] == [40, 5, 30, 20, 10]


def test_hidden_members_need_an_admin(vk):
    vk.add_group(3, "Hidden", members=10, hide_members=True)
    assert api(vk, "groups.getMembers", group_id="3")["error"]["error_code"] == 15
    vk.tokens[FAST].admin[3] = 1
    assert api(vk, "groups.getMembers", group_id="3")["response"]["count"] == 10


def test_users_get_is_synthetic_and_deterministic(vk):
    body = api(vk, "users.get", user_ids="1,2,97,id3", fields="sex,bdate,city,photo_100,domain,last_seen")
    users = {u["id"]: u for u in body["response"]}
    assert set(users) == {1, 2, 3, 97}
    assert users[97] == {"id": 97, "first_name": "DELETED", "last_name": "", "deactivated": "deleted"}
    assert users[1]["photo_100"].startswith("https://vk.example/")
    assert api(vk, "users.get", user_ids="1,2,97,id3", fields="sex,bdate,city,photo_100,domain,last_seen") == body
    assert "sex" not in api(vk, "users.get", user_ids="1")["response"][0]
    vk.users[1] = {**synthetic_profile(1), "first_name": "Explicit"}
    assert api(vk, "users.get", user_ids="1")["response"][0]["first_name"] == "Explicit"
    too_many = ",".join(str(i) for i in range(1, 1002))
    assert api(vk, "users.get", user_ids=too_many)["error"]["error_code"] == 100


# --- execute ------------------------------------------------------------------------
def test_execute_runs_the_code_with_api_bound_to_the_emulator(vk):
    body = execute(vk, MEMBERS_CODE % ("[0, 1000, 2000]", 1))
    pages = body["response"]
    assert [(p["o"], p["c"], len(p["i"])) for p in pages] == [(0, 2500, 1000), (1000, 2500, 1000), (2000, 2500, 500)]
    assert sum((p["i"] for p in pages), []) == vk.groups[1].members
    assert "execute_errors" not in body
    assert vk.requests == {"execute": 1} and vk.executes == 1
    assert vk.subcalls["groups.getMembers"] == 3 and vk.calls["groups.getMembers"] == 3


def test_a_failing_call_inside_execute_is_false_plus_execute_errors(vk):
    body = execute(vk, 'return [API.users.get({"user_ids": [1, 2]}), API.groups.getMembers({"group_id": 99})];')
    users, members = body["response"]
    assert [u["id"] for u in users] == [1, 2]
    assert members is False
    assert body["execute_errors"] == [
        {
            "method": "groups.getMembers",
            "error_code": 100,
            "error_msg": "One of the parameters specified was missing or invalid: group_id is undefined",
        }
    ]


def test_execute_allows_25_calls_and_refuses_the_26th(vk):
    loop = (
        'var n = 0; var i = 0; while (i < %d) { n = n + API.users.get({"user_ids": 1}).length; i = i + 1; } return n;'
    )
    assert execute(vk, loop % 25)["response"] == 25
    error = execute(vk, loop % 26)["error"]
    assert error["error_code"] == 13
    assert error["error_msg"] == "Runtime error occurred during code invocation: Too many API calls"


def test_execute_response_size_limit(vk):
    vk.execute_max_bytes = 10_000
    assert len(execute(vk, MEMBERS_CODE % ("[0]", 2))["response"]) == 1
    error = execute(vk, MEMBERS_CODE % ("[0, 1000]", 1))["error"]
    assert error["error_code"] == 13 and error["error_msg"].endswith("Response size is too big")


def test_execute_speaks_vkscript_pluck_concat_and_args(vk):
    code = """var ids = [];
ids = ids + API.users.get({"user_ids": Args.first})@.id;
ids += API.users.get({"user_ids": [7, 8]})@.id;
return {"ids": ids, "n": parseInt(Args.n) + 1};"""
    assert execute(vk, code, first="5,6", n="41")["response"] == {"ids": [5, 6, 7, 8], "n": 42}


def test_execute_compile_and_runtime_errors(vk):
    assert execute(vk, "var x = ;")["error"]["error_code"] == 12
    runtime = execute(vk, "var x = null; return x.y;")["error"]
    assert runtime["error_code"] == 13 and "TypeError" in runtime["error_msg"]
    assert execute(vk, "var x = 1;")["response"] is None
    assert api(vk, "execute")["error"]["error_code"] == 100


def test_registered_methods_work_over_http_and_inside_execute(vk):
    def wall_get(params, token):
        if params.get("owner_id") == "-404":
            raise VkError(15)
        return {"count": 1, "items": [{"id": 1, "owner_id": int(params["owner_id"])}]}

    vk.register_method("wall.get", wall_get)
    assert api(vk, "wall.get", owner_id="-1")["response"]["items"][0]["owner_id"] == -1
    body = execute(vk, 'return [API.wall.get({"owner_id": -1}).count, API.wall.get({"owner_id": -404})];')
    assert body["response"] == [1, False] and body["execute_errors"][0]["method"] == "wall.get"


def test_a_million_members_in_40_executes_is_quick(vk):
    vk.add_group(7, "Big", members=1_000_000)
    started = time.monotonic()
    seen = []
    for e in range(40):
        pages = execute(vk, MEMBERS_CODE % (json.dumps([(e * 25 + k) * 1000 for k in range(25)]), 7))["response"]
        for page in pages:
            seen.extend(page["i"])
    elapsed = time.monotonic() - started
    assert seen == vk.groups[7].members
    assert vk.executes == 40 and vk.subcalls["groups.getMembers"] == 1000
    assert elapsed < 30, f"{elapsed:.1f} s"


# --- per-token requests per second -----------------------------------------------------
def test_user_token_gets_error_6_on_the_fourth_request_within_a_second(vk):
    codes = [api(vk, "users.get", USER, user_ids="1").get("error", {}).get("error_code") for _ in range(4)]
    assert codes[:3] == [None, None, None] and codes[3] == 6
    assert vk.errors_answered(6) == 1
    time.sleep(1.05)
    assert "response" in api(vk, "users.get", USER, user_ids="1")
    assert vk.max_requests_per_second(USER) == 3  # the refused one does not count


def test_community_token_has_20_rps_and_execute_counts_once(vk):
    answers = [api(vk, "users.get", COMMUNITY, user_ids="1") for _ in range(19)]
    answers.append(execute(vk, 'return [API.users.get({"user_ids": 1}), API.users.get({"user_ids": 2})];', COMMUNITY))
    answers.append(api(vk, "users.get", COMMUNITY, user_ids="1"))
    assert all("response" in a for a in answers[:20])
    assert answers[20]["error"]["error_code"] == 6
    assert answers[20]["error"]["error_msg"] == "Too many requests per second"
    assert vk.max_requests_per_second(COMMUNITY) == 20


# --- faults ---------------------------------------------------------------------------
@pytest.mark.parametrize("code", [6, 9, 13, 15, 29, 30])
def test_fail_next_answers_the_code_once(vk, code):
    vk.fail_next(code=code)
    assert api(vk, "users.get", user_ids="1")["error"]["error_code"] == code
    assert "response" in api(vk, "users.get", user_ids="1")


def test_fail_next_by_token_and_times(vk):
    vk.fail_next(token=COMMUNITY, code=9, times=2)
    assert "response" in api(vk, "users.get", FAST, user_ids="1")
    assert [api(vk, "users.get", COMMUNITY, user_ids="1")["error"]["error_code"] for _ in range(2)] == [9, 9]
    assert "response" in api(vk, "users.get", COMMUNITY, user_ids="1")


def test_error_5_sticks_to_the_token(vk):
    vk.fail_next(token=COMMUNITY, code=5)
    for _ in range(3):
        assert api(vk, "users.get", COMMUNITY, user_ids="1")["error"]["error_code"] == 5
    assert vk.tokens[COMMUNITY].invalid
    assert "response" in api(vk, "users.get", FAST, user_ids="1")


def test_captcha_error_carries_sid_and_image(vk):
    vk.fail_next(code=14)
    error = api(vk, "users.get", user_ids="1")["error"]
    assert error["error_code"] == 14 and error["captcha_sid"] and error["captcha_img"].startswith("https://")


def test_fail_next_for_a_method_hits_it_inside_execute(vk):
    vk.fail_next(method="groups.getMembers", code=6)
    body = execute(vk, MEMBERS_CODE % ("[0, 1000]", 1))
    assert body["response"][0] == {"o": 0, "c": -1}
    assert len(body["response"][1]["i"]) == 1000
    assert body["execute_errors"] == [
        {"method": "groups.getMembers", "error_code": 6, "error_msg": "Too many requests per second"}
    ]
    vk.fail_next(method="execute", code=9)
    assert execute(vk, "return 1;")["error"]["error_code"] == 9


def test_http_500_next(vk):
    vk.http_500_next(2)
    for _ in range(2):
        assert (
            requests.post(vk.url + "users.get", data={"access_token": FAST, "v": "5.199"}, timeout=5).status_code == 500
        )
    assert "response" in api(vk, "users.get", user_ids="1")


def test_drop_next_closes_without_an_answer(vk):
    vk.drop_next()
    with pytest.raises(requests.ConnectionError):
        requests.post(vk.url + "users.get", data={"access_token": FAST, "v": "5.199", "user_ids": "1"}, timeout=5)
    assert "response" in api(vk, "users.get", user_ids="1")


def test_short_page_next(vk):
    vk.short_page_next()
    pages = execute(vk, MEMBERS_CODE % ("[0, 1000]", 1))["response"]
    assert [len(p["i"]) for p in pages] == [500, 1000] and pages[0]["c"] == 2500


def test_fault_rate_is_seeded_and_proportional(vk):
    vk.fault_rate(0.5, codes=(6, 9, 29, "http500"), seed=3)
    outcomes = []
    for _ in range(200):
        response = requests.post(
            vk.url + "users.get", data={"access_token": FAST, "v": "5.199", "user_ids": "1"}, timeout=5
        )
        outcomes.append(response.status_code if response.status_code != 200 else response.json().get("error", {}))
    failed = [o for o in outcomes if o != {}]
    assert 70 < len(failed) < 130
    assert {o["error_code"] for o in failed if isinstance(o, dict)} == {6, 9, 29} and 500 in failed
    vk.fault_rate(0)
    assert "response" in api(vk, "users.get", user_ids="1")


def test_fail_members_beyond_a_fraction(vk):
    vk.add_group(5, "Ten thousand", members=10_000)
    vk.fail_members_beyond(0.94)
    pages = execute(vk, MEMBERS_CODE % (json.dumps(list(range(0, 10_000, 1000))), 5))
    assert sum(len(p.get("i", [])) for p in pages["response"]) == 9_400
    assert [len(p["i"]) for p in pages["response"]][-2:] == [1000, 400]  # 8000.., 9000..9399: short
    assert pages["response"][-1]["c"] == 10_000
    assert "error" in api(vk, "groups.getMembers", group_id="5", offset="9400")
    vk.fail_members_beyond(0.94, code=None)
    tail = api(vk, "groups.getMembers", group_id="5", offset="9400", count="600")["response"]
    assert tail == {"count": 10_000, "items": []}
    vk.fail_members_beyond(None)
    assert len(api(vk, "groups.getMembers", group_id="5", offset="9400")["response"]["items"]) == 600


def test_members_change_and_during_fetch_drift(vk):
    vk.members_change(2, join=[15, 25], leave=[10])
    assert vk.groups[2].members == [15, 20, 25, 30]
    vk.members_change(2, join=range(100, 300), leave=[15])
    assert vk.groups[2].members == [20, 25, 30, *range(100, 300)]

    vk.during_fetch(lambda emulator: emulator.members_change(1, leave=emulator.groups[1].members[:10]), after=1)
    pages = execute(vk, MEMBERS_CODE % ("[0, 1000]", 1))["response"]
    assert pages[0]["c"] == 2500 and pages[1]["c"] == 2490  # the group changed between the two calls
