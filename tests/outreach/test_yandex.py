"""YandexClient and the IAM token against the Yandex emulator."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from leadops import http, ratelimit
from outreach import iam
from outreach.yandex import (
    OPERATION_TTL,
    OutsideNightWindow,
    YandexClient,
    YandexConfigError,
    YandexError,
    YandexUnavailable,
    search_body,
)
from tests.emulators.yandex import IAM_AUDIENCE, YandexEmulator, serp_xml

NIGHT = datetime(2025, 3, 10, 22, 0, tzinfo=UTC)  # 01:00 Moscow time
NOON = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
KEY_ID, SA_ID = "ajetestkey0001", "ajetestsa00001"
STATIC = "t1.static-test-token-DO-NOT-LEAK"


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)  # made here, never committed


def pem_of(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def key_json(key, *, key_id=KEY_ID, sa_id=SA_ID, private_key=None) -> str:
    """Shaped like `yc iam key create` output, yc's first line included."""
    pem = (
        private_key
        if private_key is not None
        else f"PLEASE DO NOT REMOVE THIS LINE! Yandex.Cloud SA Key ID <{key_id}>\n{pem_of(key)}"
    )
    return json.dumps(
        {
            "id": key_id,
            "service_account_id": sa_id,
            "created_at": "2025-01-01T00:00:00.000000Z",
            "key_algorithm": "RSA_2048",
            "public_key": "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n",
            "private_key": pem,
        }
    )


@pytest.fixture
def ya(settings, rsa_key, clock):
    with YandexEmulator(start=NIGHT.timestamp()) as emulator:
        emulator.add_service_account_key(KEY_ID, SA_ID, rsa_key.public_key())
        emulator.configure(settings)
        settings.YANDEX_CLOUD_SA_KEY_JSON = key_json(rsa_key)
        settings.YANDEX_CLOUD_SA_KEY_FILE = ""
        settings.YANDEX_CLOUD_IAM_TOKEN = ""
        settings.YANDEX_ENFORCE_NIGHT_WINDOW = True
        yield emulator


@pytest.fixture
def sleeps(ya):
    """Backoff sleeps: recorded, and they move the emulator's clock."""
    recorded = []

    def sleep(seconds):
        recorded.append(seconds)
        ya.advance(seconds)

    sleep.calls = recorded
    return sleep


@pytest.fixture
def client(ya, sleeps):
    return YandexClient(sleep=sleeps, now=ya.now_dt)


# --- IAM ---------------------------------------------------------------------------
def test_jwt_claims_and_signature_are_verified_by_the_emulator(ya, client):
    client.search_async("кафе Москва", 213)
    assert ya.requests["iam"] == 1 and ya.iam_rejections == []
    (header,) = ya.jwt_headers
    (claims,) = ya.jwt_claims
    assert header == {"typ": "JWT", "alg": "PS256", "kid": KEY_ID}
    assert claims["iss"] == SA_ID
    assert claims["aud"] == IAM_AUDIENCE
    assert claims["iat"] == int(NIGHT.timestamp())
    assert 0 < claims["exp"] - claims["iat"] <= 3600
    assert ya.auth_headers[-1] == "Bearer " + next(iter(ya.issued))


def test_emulator_rejects_a_jwt_signed_by_another_key(ya, client, settings):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    settings.YANDEX_CLOUD_SA_KEY_JSON = key_json(other)  # same kid, wrong key
    with pytest.raises(YandexConfigError, match="IAM refused"):
        client.search_async("кафе Москва", 213)
    assert ya.iam_rejections == ["bad signature"]
    assert ya.requests["search"] == 0


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, c: c.update(aud="https://example.test/"), "wrong aud"),
        (lambda h, c: c.update(iss="someone-else"), "iss is not the key's service account"),
        (lambda h, c: c.update(exp=c["iat"] + 3601), "exp - iat must be 1..3600 s"),
        (lambda h, c: h.update(kid="unknown"), "unknown kid"),
    ],
)
def test_emulator_checks_each_claim(ya, rsa_key, change, reason):
    key = iam.load_key(key_json(rsa_key))
    token = iam.make_jwt(key, ya.now_dt())
    h64, c64, _ = token.split(".")
    header = json.loads(base64.urlsafe_b64decode(h64 + "=="))
    claims = json.loads(base64.urlsafe_b64decode(c64 + "=="))
    change(header, claims)
    # Re-sign the altered JWT with the right key: only the claim is wrong.
    signing_input = f"{iam._b64json(header)}.{iam._b64json(claims)}"
    signature = rsa_key.sign(
        signing_input.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )
    with pytest.raises(http.PermanentHttpError) as info:
        http.post(ya.iam_url, json={"jwt": f"{signing_input}.{iam._b64url(signature)}"}, trusted=True, retries=0)
    assert info.value.status == 401
    assert ya.iam_rejections == [reason]


def test_iam_token_is_cached_until_60_s_before_expiry(ya, client):
    ya.iam_ttl = 3600
    client.search_async("кафе Москва", 213)
    assert ya.requests["iam"] == 1
    ya.advance(3600 - 61)
    client.search_async("кафе Казань", 43)
    assert ya.requests["iam"] == 1  # 61 s left: still cached
    ya.advance(2)
    client.search_async("кафе Омск", 66)
    assert ya.requests["iam"] == 2  # 59 s left: refreshed
    assert ya.auth_headers[-1] != ya.auth_headers[0]


def test_token_cache_is_shared_by_clients_in_a_process(ya, sleeps):
    YandexClient(sleep=sleeps, now=ya.now_dt).search_async("кафе Москва", 213)
    YandexClient(sleep=sleeps, now=ya.now_dt).search_async("кафе Казань", 43)
    assert ya.requests["iam"] == 1


def test_revoked_token_is_refreshed_once(ya, client):
    client.search_async("кафе Москва", 213)
    ya.revoke_tokens()
    client.search_async("кафе Казань", 43)
    assert ya.requests["iam"] == 2
    assert ya.requests["search"] == 3  # one 401, then the retry with the new token
    assert len(ya.searches) == 2


def test_key_with_literal_backslash_n(ya, client, settings, rsa_key):
    literal = pem_of(rsa_key).replace("\n", "\\n")  # what an env file often holds
    settings.YANDEX_CLOUD_SA_KEY_JSON = key_json(rsa_key, private_key=literal)
    assert "\\\\n" in settings.YANDEX_CLOUD_SA_KEY_JSON
    client.search_async("кафе Москва", 213)
    assert ya.iam_rejections == [] and len(ya.searches) == 1


def test_key_json_with_raw_newlines_inside_the_string(ya, client, settings, rsa_key):
    settings.YANDEX_CLOUD_SA_KEY_JSON = key_json(rsa_key).replace("\\n", "\n")  # pasted multi-line
    client.search_async("кафе Москва", 213)
    assert len(ya.searches) == 1


def test_key_from_a_file(ya, client, settings, rsa_key, tmp_path):
    path = tmp_path / "authorized_key.json"
    path.write_text(key_json(rsa_key), encoding="utf-8")
    settings.YANDEX_CLOUD_SA_KEY_FILE = str(path)
    settings.YANDEX_CLOUD_SA_KEY_JSON = "not used"
    client.search_async("кафе Москва", 213)
    assert len(ya.searches) == 1


def _ec_pem():
    key = ec.generate_private_key(ec.SECP256R1())
    return pem_of(key)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json at all", "not valid JSON"),
        ('["a list"]', "not a JSON object"),
        (json.dumps({"id": KEY_ID, "service_account_id": SA_ID}), "'private_key' is missing"),
        (json.dumps({"service_account_id": SA_ID, "private_key": "x"}), "'id' is missing"),
        (json.dumps({"id": KEY_ID, "service_account_id": SA_ID, "private_key": "MIIEv..."}), "no PEM block"),
        (
            json.dumps(
                {
                    "id": KEY_ID,
                    "service_account_id": SA_ID,
                    "private_key": "-----BEGIN PRIVATE KEY-----\nSECRETGARBAGE\n-----END PRIVATE KEY-----\n",
                }
            ),
            "cannot be read",
        ),
        ("EC", "not an RSA key"),
    ],
)
def test_bad_key_is_one_clear_config_error(ya, client, settings, text, why):
    if text == "EC":
        text = json.dumps({"id": KEY_ID, "service_account_id": SA_ID, "private_key": _ec_pem()})
    settings.YANDEX_CLOUD_SA_KEY_JSON = text
    with pytest.raises(YandexConfigError) as info:
        client.search_async("кафе Москва", 213)
    assert why in str(info.value)
    assert "YANDEX_CLOUD_SA_KEY_JSON" in str(info.value)
    assert "SECRETGARBAGE" not in str(info.value)
    assert info.value.__cause__ is None  # no chained parser error quoting the key
    assert info.value.__context__ is None or info.value.__suppress_context__
    assert ya.requests["iam"] == 0 and ya.requests["search"] == 0


def test_missing_key_file_is_a_config_error(ya, client, settings, tmp_path):
    settings.YANDEX_CLOUD_SA_KEY_FILE = str(tmp_path / "missing.json")
    with pytest.raises(YandexConfigError, match="YANDEX_CLOUD_SA_KEY_FILE"):
        client.search_async("кафе Москва", 213)


def test_no_credentials_at_all(ya, client, settings):
    settings.YANDEX_CLOUD_SA_KEY_JSON = ""
    with pytest.raises(YandexConfigError, match="no Yandex credentials"):
        client.search_async("кафе Москва", 213)


def test_static_token(ya, client, settings):
    settings.YANDEX_CLOUD_SA_KEY_JSON = ""
    settings.YANDEX_CLOUD_IAM_TOKEN = STATIC
    ya.add_static_token(STATIC)
    client.search_async("кафе Москва", 213)
    assert ya.requests["iam"] == 0
    assert ya.auth_headers == [f"Bearer {STATIC}"]


def test_rejected_static_token_is_a_config_error(ya, client, settings):
    settings.YANDEX_CLOUD_SA_KEY_JSON = ""
    settings.YANDEX_CLOUD_IAM_TOKEN = STATIC  # the emulator does not know it: expired
    with pytest.raises(YandexConfigError, match="YANDEX_CLOUD_IAM_TOKEN expired") as info:
        client.search_async("кафе Москва", 213)
    assert STATIC not in str(info.value)
    assert ya.requests["search"] == 1


def test_expires_at_with_nanoseconds():
    assert iam.parse_expires_at("2025-03-11T10:00:00.123456789Z") == datetime(2025, 3, 11, 10, 0, 0, 123456, tzinfo=UTC)
    assert iam.parse_expires_at("2025-03-11T10:00:00Z") == datetime(2025, 3, 11, 10, tzinfo=UTC)
    assert iam.parse_expires_at("soon") is None


def test_key_repr_hides_the_private_key(rsa_key):
    assert "RSAPrivateKey" not in repr(iam.load_key(key_json(rsa_key)))


# --- searchAsync ----------------------------------------------------------------------
def test_search_body_is_exactly_the_originals(ya, client):
    operation_id = client.search_async("стоматология Санкт-Петербург", 2)
    assert ya.searches == [
        {
            "query": {
                "searchType": "SEARCH_TYPE_RU",
                "queryText": "стоматология Санкт-Петербург",
                "familyMode": "FAMILY_MODE_MODERATE",
                "page": "0",
                "fixTypoMode": "FIX_TYPO_MODE_ON",
            },
            "sortSpec": {"sortMode": "SORT_MODE_BY_RELEVANCE"},
            "groupSpec": {"groupMode": "GROUP_MODE_DEEP", "groupsOnPage": "100", "docsInGroup": "1"},
            "region": "2",
            "l10n": "LOCALIZATION_RU",
            "folderId": ya.folder_id,
            "responseFormat": "FORMAT_XML",
        }
    ]
    assert search_body("стоматология Санкт-Петербург", 2, ya.folder_id) == ya.searches[0]
    assert ya.auth_headers[-1].startswith("Bearer t1.emulated.")
    assert ya.operation(operation_id).text == "стоматология Санкт-Петербург"


def test_search_retries_500_and_drops(ya, client, sleeps):
    ya.http_500_next(1, endpoint="search")
    ya.drop_next(1, endpoint="search")
    client.search_async("кафе Москва", 213)
    assert sleeps.calls == [1.0, 2.0]
    assert len(ya.searches) == 1 and ya.requests["search"] == 3


def test_search_gives_up_with_yandex_unavailable(ya, client, sleeps):
    ya.http_500_next(10, endpoint="search")
    with pytest.raises(YandexUnavailable):
        client.search_async("кафе Москва", 213)
    assert ya.requests["search"] == 4 and ya.searches == []


def test_429_blocks_the_shared_key(ya, client, sleeps, clock):
    ya.http_error_next(429, 1, endpoint="search")
    client.search_async("кафе Москва", 213)
    assert len(ya.searches) == 1
    assert sleeps.calls == [1.0]
    assert sum(clock.sleeps) >= 0.99  # the retry waited out the block on "yandex" (every worker would)


def test_wrong_folder_is_a_config_error(ya, client, settings):
    settings.YANDEX_CLOUD_FOLDER_ID = "b1gsomeoneelse"
    with pytest.raises(YandexConfigError, match="search-api.executor") as info:
        client.search_async("кафе Москва", 213)
    assert info.value.status == 403


def test_missing_folder_is_a_config_error(ya, client, settings):
    settings.YANDEX_CLOUD_FOLDER_ID = ""
    with pytest.raises(YandexConfigError, match="YANDEX_CLOUD_FOLDER_ID"):
        client.search_async("кафе Москва", 213)
    assert ya.requests["search"] == 0


def test_night_window_refusal(ya, client, settings):
    ya.advance(14 * 3600)  # 12:00 UTC the next day: 15:00 in Moscow
    assert ya.now_dt() == NOON + timedelta(days=1)
    with pytest.raises(OutsideNightWindow) as info:
        client.search_async("кафе Москва", 213)
    assert info.value.next_start == datetime(2025, 3, 11, 21, 0, tzinfo=UTC)
    assert isinstance(info.value, YandexError)
    assert sum(ya.requests.values()) == 0
    settings.YANDEX_ENFORCE_NIGHT_WINDOW = False
    client.search_async("кафе Москва", 213)  # the emulator does not care about the time
    assert len(ya.searches) == 1


# --- operations ---------------------------------------------------------------------------
def test_operation_finishes_after_its_delay(ya, client):
    ya.operation_delay = 60
    op = client.search_async("кафе Москва", 213)
    pending = client.get_operation(op)
    assert not pending.done and pending.raw_data is None and pending.error is None
    assert pending.created_at == NIGHT
    ya.advance(61)
    result = client.get_operation(op)
    assert result.done and not result.failed
    assert result.raw_data == serp_xml("кафе Москва", 10, lr=213)
    assert result.raw_data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')


def test_custom_serp_callback(ya, client):
    ya.serp = lambda text, lr: f"<yandexsearch><q>{text}|{lr}</q></yandexsearch>"
    result = client.get_operation(client.search_async("кафе Омск", 66))
    assert result.raw_data == "<yandexsearch><q>кафе Омск|66</q></yandexsearch>".encode()


def test_polling_retries_transient_errors(ya, client, sleeps):
    op = client.search_async("кафе Москва", 213)
    ya.http_500_next(2, endpoint="operation")
    ya.drop_next(1, endpoint="operation")
    ya.http_error_next(503, 1, endpoint="operation")
    result = client.get_operation(op)
    assert result.done and result.raw_data
    assert sleeps.calls == [1.0, 2.0, 4.0, 8.0]
    assert ya.requests["operation"] == 5


def test_polling_trouble_is_unavailable_not_failed(ya, client, sleeps):
    op = client.search_async("кафе Москва", 213)
    ya.http_500_next(100, endpoint="operation")
    with pytest.raises(YandexUnavailable) as info:
        client.get_operation(op)
    assert info.value.status == 500
    assert ya.requests["operation"] == 5


def test_error_operation(ya, client):
    ya.fail_next_operations(code=13, message="Search backend failed")
    result = client.get_operation(client.search_async("кафе Москва", 213))
    assert result.done and result.failed and result.raw_data is None
    assert result.error["code"] == 13 and result.error["message"] == "Search backend failed"
    json.dumps(result.error)  # fits SerpOperation.error_payload


def test_operation_without_raw_data(ya, client):
    ya.no_raw_data_next()
    result = client.get_operation(client.search_async("кафе Москва", 213))
    assert result.failed and result.error["code"] == "no_raw_data"


def test_operation_older_than_12_h_fails_without_a_request(ya, client):
    op = client.search_async("кафе Москва", 213)
    ya.advance(OPERATION_TTL.total_seconds() + 1)
    result = client.get_operation(op, requested_at=NIGHT)
    assert result.failed and result.expired
    assert "older than 12 h" in result.error["message"]
    assert ya.requests["operation"] == 0


def test_operation_older_than_12_h_by_its_created_at(ya, client):
    ya.operation_delay = 24 * 3600  # never done
    ya.retention = 13 * 3600  # the emulator still answers it
    op = client.search_async("кафе Москва", 213)
    ya.advance(12 * 3600 - 1)
    assert not client.get_operation(op).done
    ya.advance(2)
    result = client.get_operation(op)
    assert result.expired and result.error["code"] == "expired"


def test_expired_operation_answered_404(ya, client):
    op = client.search_async("кафе Москва", 213)
    ya.advance(12 * 3600 + 1)
    result = client.get_operation(op)  # no requested_at: the 404 says it
    assert result.failed and result.error["code"] == "not_found"


def test_wait_for_operation(ya, client, sleeps):
    ya.operation_delay = 30
    result = client.wait_for_operation(client.search_async("кафе Москва", 213))
    assert result.done and result.raw_data
    assert sleeps.calls == [5.0, 10.0, 20.0]


# --- the limiter ---------------------------------------------------------------------------
def test_every_call_goes_through_the_limiter(ya, client, monkeypatch):
    taken = []
    real = ratelimit.acquire

    def acquire(key, rate, burst=1, timeout=None):
        taken.append((key, rate, burst))
        return real(key, rate, burst, timeout)

    monkeypatch.setattr(ratelimit, "acquire", acquire)
    ya.http_500_next(1, endpoint="operation")
    ya.http_500_next(1, endpoint="search")
    ops = [client.search_async(f"кафе {city}", 213) for city in ("Москва", "Казань", "Омск")]
    for op in ops:
        client.get_operation(op)
    keys = [k for k, _, _ in taken]
    assert keys.count("yandex") == ya.requests["search"] + ya.requests["operation"] == 4 + 4
    assert keys.count("yandex-hour") == ya.requests["search"] == 4
    assert keys.count("yandex-iam") == ya.requests["iam"] == 1
    assert ("yandex", 10.0, 1) in taken
    hour = next(r for k, r, _ in taken if k == "yandex-hour")
    assert hour * 3600 + 1 <= 35_000


def test_limiter_paces_searches(ya, client, clock):
    start = clock.now
    for i in range(21):
        client.search_async(f"кафе {i}", 213)
    elapsed = clock.now - start
    assert elapsed >= 20 * 3600 / 34_999 - 1e-6  # the hourly bucket: 9.72 a second
    assert elapsed < 20 * 0.2
