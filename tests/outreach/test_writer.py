"""The email writer against the OpenAI emulator: a real HTTP server the official SDK talks to."""

import json

import pytest
import requests

from outreach import writer
from outreach.writer import BriefFacts, CompanyFacts, Draft, check_draft, fallback_email, write_email
from tests.emulators.openai import OpenAIEmulator, mask

KEY = "sk-test-writer-key-7f3a9c"
COMPANY = CompanyFacts(
    name="Ромашка",
    domain="romashka.example.ru",
    excerpt="Цветочная мастерская: букеты, доставка по городу, оформление праздников.",
)
BRIEF = BriefFacts(
    offer="Мы настраиваем учёт заказов и CRM для небольших магазинов за две недели.",
    tone="дружелюбно и коротко",
    signature="Анна Смирнова\nменеджер, Пример Софт",
)
BRIEF_EN = BriefFacts(
    offer="We set up order tracking and a CRM for small shops in two weeks.",
    tone="friendly, short",
    signature="Anna Smith\nAccount manager, Example Soft",
    language="en",
)
GOOD_RU = (
    "Здравствуйте!\n\nМы посмотрели ваш сайт и хотим предложить настройку учёта заказов. "
    "Это займёт две недели и освободит время команды.\n\nЕсли интересно, ответьте на это письмо."
)
ENGLISH_BODY = (
    "Hello,\n\nWe looked at your website and would like to offer a CRM setup for your shop. "
    "It takes two weeks and saves your team time.\n\nReply if this sounds interesting."
)


@pytest.fixture
def ai(settings):
    with OpenAIEmulator(api_key=KEY) as emulator:
        emulator.configure(settings)
        settings.OPENAI_MODEL = "gpt-4.1-mini"
        settings.OPENAI_MAX_ATTEMPTS = 4
        settings.OPENAI_TIMEOUT = 5.0
        yield emulator


@pytest.fixture
def sleeps():
    return []


def write(sleeps, company=COMPANY, brief=BRIEF):
    return write_email(company=company, brief=brief, sleep=sleeps.append)


def draft(subject="Идея для «Ромашка»", body=GOOD_RU + "\n\n" + BRIEF.signature) -> Draft:
    return Draft(subject=subject, body=body, is_fallback=False, model="m", attempts=1, request={})


# --- structured output --------------------------------------------------------------------
def test_it_parses_the_structured_output_into_a_checked_email(ai, sleeps):
    result = write(sleeps)

    assert result.ok and not result.is_fallback
    assert (result.attempts, result.error, result.problems, sleeps) == (1, "", (), [])
    assert "Ромашка" in result.subject
    assert result.body.endswith(BRIEF.signature)  # appended by us, exactly as the brief has it
    assert result.model.startswith("gpt-4.1-mini")


def test_it_asks_for_the_strict_subject_body_schema(ai, sleeps):
    write(sleeps)

    sent = ai.requests[0].body
    assert sent["model"] == "gpt-4.1-mini"
    assert sent["response_format"]["type"] == "json_schema"
    schema = sent["response_format"]["json_schema"]
    assert schema["strict"] is True
    assert schema["schema"]["required"] == ["subject", "body"]
    assert schema["schema"]["additionalProperties"] is False
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]


def test_the_prompt_is_built_from_the_company_and_the_brief(ai, sleeps):
    company = CompanyFacts(name="Ромашка", domain="romashka.example.ru", excerpt="слово " * 5000, language_hint="ru")
    write(sleeps, company=company)

    system, user = (m["content"] for m in ai.requests[0].body["messages"])
    signature = "Анна Смирнова менеджер, Пример Софт"  # on one line: the prompt is line-based
    for fact in ("Ромашка", "romashka.example.ru", BRIEF.offer, BRIEF.tone, signature, "Website language: ru"):
        assert fact in user
    assert len(user) < writer.EXCERPT_MAX + 1000  # the excerpt is trimmed, not sent whole
    assert "Russian" in system
    # Who we are comes only from the brief: the fixed text names no sender.
    assert "Анна" not in system and "Пример Софт" not in system


def test_a_latin_script_brief_gets_an_english_email(ai, sleeps):
    result = write(sleeps, company=CompanyFacts(name="Acme Flowers", domain="acme.example.com"), brief=BRIEF_EN)

    assert result.ok and not result.is_fallback
    assert "English" in ai.requests[0].body["messages"][0]["content"]


# --- transient failures ---------------------------------------------------------------------
def test_it_retries_two_500s_then_succeeds(ai, sleeps):
    ai.fail_next(500, times=2)

    result = write(sleeps)

    assert result.ok and not result.is_fallback
    assert result.attempts == 3
    assert sleeps == [1.0, 2.0]  # exponential backoff, injected: no real waiting
    assert "500" in result.error  # what went wrong before the answer came
    assert ai.answered == [500, 500, 200]


def test_it_falls_back_after_persistent_500s_and_marks_it(ai, sleeps):
    ai.fail_next(500, times=10)

    result = write(sleeps)

    assert result.is_fallback and result.fallback_reason == "unavailable"
    assert result.attempts == 4 and len(ai.requests) == 4
    assert sleeps == [1.0, 2.0, 4.0]
    assert "HTTP 500" in result.error
    assert result.ok  # the template itself is fit to send; the caller decides by is_fallback
    assert result.metadata()["fallback"] is True


def test_a_failed_generation_succeeds_on_a_later_run(ai, sleeps):
    ai.fail_next(503, times=4)
    first = write(sleeps)
    second = write(sleeps)

    assert first.is_fallback
    assert not second.is_fallback and second.attempts == 1


def test_it_waits_as_long_as_a_429_says(ai, sleeps):
    ai.fail_next(429, retry_after=7)

    result = write(sleeps)

    assert not result.is_fallback and result.attempts == 2
    assert sleeps == [7.0]


def test_it_caps_a_long_retry_after(ai, sleeps):
    ai.fail_next(429, retry_after=3600)

    write(sleeps)

    assert sleeps == [writer.RETRY_AFTER_MAX]


def test_it_retries_a_dropped_connection(ai, sleeps):
    ai.drop_next()

    result = write(sleeps)

    assert not result.is_fallback and result.attempts == 2
    assert "APIConnectionError" in result.error


def test_it_retries_a_timeout(ai, sleeps, settings):
    settings.OPENAI_TIMEOUT = 0.3
    ai.delay_next(3)

    result = write(sleeps)

    assert not result.is_fallback and result.attempts == 2
    assert "Timeout" in result.error


# --- permanent failures ---------------------------------------------------------------------
def test_a_wrong_key_goes_to_the_fallback_without_retries(ai, sleeps, settings):
    settings.OPENAI_API_KEY = "sk-wrong-key-000000"

    result = write(sleeps)

    assert result.is_fallback and result.fallback_reason == "api_error"
    assert result.attempts == 1 and len(ai.requests) == 1 and sleeps == []
    assert "401" in result.error and "invalid_api_key" in result.error
    assert "sk-wrong-key-000000" not in result.error


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_client_errors_go_to_the_fallback_without_retries(ai, sleeps, status):
    ai.fail_next(status)

    result = write(sleeps)

    assert result.is_fallback and len(ai.requests) == 1 and sleeps == []
    assert str(status) in result.error


def test_an_exhausted_quota_is_not_retried(ai, sleeps):
    ai.fail_next(429, code="insufficient_quota", message="You exceeded your current quota.")

    result = write(sleeps)

    assert result.is_fallback and len(ai.requests) == 1 and sleeps == []
    assert "insufficient_quota" in result.error


def test_without_a_key_it_falls_back_at_once_without_a_request(ai, sleeps, settings):
    settings.OPENAI_API_KEY = ""

    result = write(sleeps)

    assert result.is_fallback and result.fallback_reason == "no_api_key"
    assert result.attempts == 0 and ai.requests == [] and sleeps == []
    assert result.ok


# --- unusable output is never a generated email --------------------------------------------
UNUSABLE = {  # what the model says, answer options, what the writer makes of it
    "invalid JSON": ("{'subject': oops", {}, "not JSON"),
    "no body": ({"subject": "Идея для «Ромашка»"}, {}, "without string subject and body"),
    "placeholder": (
        {"subject": "Идея для [Company]", "body": GOOD_RU.replace("ваш сайт", "сайт {company}")},
        {},
        "placeholder left in subject: [Company]; placeholder left in body: {company}",
    ),
    "English for a Russian brief": ({"subject": "An idea for you", "body": ENGLISH_BODY}, {}, "not in ru"),
    "too short": ({"subject": "Привет", "body": "Привет, есть идея."}, {}, "body length"),
    "cut off": ({"subject": "Идея", "body": GOOD_RU}, {"finish_reason": "length"}, "cut off"),
    "refusal": ("", {"refusal": "I'm sorry, I can't help with that."}, "refusal: I'm sorry"),
    "refusal as text": (
        {"subject": "Ответ", "body": "Извините, я не могу написать такое письмо. " * 3},
        {},
        "looks like a refusal",
    ),
}


@pytest.mark.parametrize("content, options, why", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_unusable_output_is_asked_again(ai, sleeps, content, options, why):
    ai.reply_next(content, **options)

    result = write(sleeps)

    assert not result.is_fallback and result.ok and result.attempts == 2
    assert result.error.startswith("unusable output") and why in result.error
    assert sleeps == []  # asking again for a better answer needs no backoff


@pytest.mark.parametrize("content, options, why", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_output_that_keeps_failing_the_checks_is_never_returned_as_generated(ai, sleeps, content, options, why):
    ai.reply_next(content, times=4, **options)

    result = write(sleeps)

    assert result.is_fallback and result.fallback_reason == "unusable_output"
    assert result.attempts == 4 and why in result.error
    assert result.subject.startswith("Предложение для")  # the template, not the model's text
    assert result.ok


# --- the key stays out of everything stored -------------------------------------------------
def test_the_stored_request_and_error_never_contain_the_key(ai, sleeps, settings):
    ai.fail_next(500)
    ok = write(sleeps)
    settings.OPENAI_API_KEY = "sk-another-secret-4242"
    refused = write(sleeps)

    for result in (ok, refused):
        stored = json.dumps(result.metadata(), ensure_ascii=False)
        assert KEY not in stored and "sk-another-secret-4242" not in stored
        assert set(result.request) == {"model", "messages", "response_format"}


def test_the_emulator_records_the_key_masked(ai, sleeps):
    write(sleeps)

    assert ai.requests[0].headers["authorization"] == "Bearer " + mask(KEY)
    assert KEY not in repr(ai.requests)


# --- check_draft ---------------------------------------------------------------------------
def test_a_good_russian_draft_has_no_problems():
    assert check_draft(draft(), company=COMPANY, brief=BRIEF) == []


def test_a_latin_company_name_and_signature_do_not_count_against_russian():
    brief = BriefFacts(offer="x", tone="", signature="Anna Smith\nExample Soft Ltd <anna@example.com>")
    company = CompanyFacts(name="Acme International Flowers", domain="acme.example.com")
    body = GOOD_RU.replace("ваш сайт", "сайт Acme International Flowers (https://acme.example.com)")

    problems = check_draft(
        draft("Идея для Acme International Flowers", body + "\n\n" + brief.signature), company=company, brief=brief
    )

    assert problems == []


CHECKS = {
    "[Name]": ("Идея для «Ромашка»", GOOD_RU.replace("Здравствуйте!", "Здравствуйте, [Name]!"), "placeholder"),
    "[Имя]": ("Идея для «Ромашка»", GOOD_RU.replace("Здравствуйте!", "Здравствуйте, [Имя]!"), "placeholder"),
    "{company}": ("Идея для {company}", GOOD_RU, "placeholder left in subject"),
    "{{ name }}": ("Идея", GOOD_RU + " {{ name }}", "placeholder"),
    "<...>": ("Идея", GOOD_RU.replace("ваш сайт", "сайт <название компании>"), "placeholder"),
    "XXX": ("Идея", GOOD_RU.replace("две недели", "XXX недель"), "placeholder"),
    "Lorem": ("Идея", GOOD_RU + " Lorem ipsum dolor sit amet.", "placeholder"),
    "English": ("An idea", ENGLISH_BODY, "not in ru"),
    "empty": ("", "", "empty"),
    "short body": ("Идея", "Здравствуйте! Есть идея.", "body length"),
    "long body": ("Идея", GOOD_RU * 60, "body length"),
    "long subject": ("Идея " * 40, GOOD_RU, "subject length"),
    "two-line subject": ("Идея\nвторая строка", GOOD_RU, "line break"),
    "refusal": ("Письмо", "К сожалению, я не могу помочь с этим письмом. " * 3, "refusal"),
}


@pytest.mark.parametrize("subject, body, problem", CHECKS.values(), ids=CHECKS.keys())
def test_check_draft_names_the_problem(subject, body, problem):
    signed = body + "\n\n" + BRIEF.signature if body else body
    problems = check_draft(draft(subject, signed), company=COMPANY, brief=BRIEF)

    assert any(problem in p for p in problems), problems


def test_check_draft_wants_the_signature():
    assert check_draft(draft(body=GOOD_RU), company=COMPANY, brief=BRIEF) == ["signature missing"]


def test_an_address_in_angle_brackets_is_not_a_placeholder():
    body = GOOD_RU + "\n\n" + BRIEF.signature + "\nПишите: <anna@example.com>, https://example.com"
    assert check_draft(draft(body=body), company=COMPANY, brief=BRIEF) == []


def test_a_russian_email_for_an_english_brief_is_a_problem():
    problems = check_draft(draft(body=GOOD_RU + "\n\n" + BRIEF_EN.signature), company=COMPANY, brief=BRIEF_EN)
    assert any("not in en" in p for p in problems)


def test_a_polite_apology_is_not_a_refusal():
    body = "I'm sorry to write out of the blue. " + ENGLISH_BODY + "\n\n" + BRIEF_EN.signature
    company = CompanyFacts(name="Acme", domain="acme.example.com")

    assert check_draft(draft("An idea for Acme", body), company=company, brief=BRIEF_EN) == []


# --- the fallback ----------------------------------------------------------------------------
@pytest.mark.parametrize("brief", [BRIEF, BRIEF_EN], ids=["ru", "en"])
def test_the_fallback_is_predictable_marked_and_passes_the_checks(brief):
    first, again = fallback_email(COMPANY, brief), fallback_email(COMPANY, brief)

    assert first == again
    assert first.is_fallback and first.model == "fallback-template"
    assert check_draft(first, company=COMPANY, brief=brief) == [] and first.ok
    assert brief.offer in first.body and first.body.endswith(brief.signature)
    assert "Ромашка" in first.subject


def test_a_fallback_from_a_broken_brief_says_it_is_not_fit_to_send():
    brief = BriefFacts(offer="Мы делаем [услуга] для вас.", tone="", signature="[Имя]")

    result = fallback_email(COMPANY, brief)

    assert result.is_fallback and not result.ok
    assert any("placeholder" in p for p in result.problems)


def test_a_quoted_company_name_is_not_quoted_twice():
    company = CompanyFacts(name="ООО «Ромашка»", domain="romashka.example.ru")
    assert "««" not in fallback_email(company, BRIEF).body


# --- the emulator's wire format ---------------------------------------------------------------
def test_the_emulator_answers_a_wrong_key_with_openais_error_shape(ai):
    answer = requests.post(
        ai.url + "/chat/completions",
        json={"model": "m", "messages": []},
        headers={"Authorization": "Bearer sk-nope-123456789"},
    )

    assert answer.status_code == 401
    error = answer.json()["error"]
    assert error["code"] == "invalid_api_key" and error["type"] == "invalid_request_error"
    assert "sk-nope-123456789" not in error["message"]  # masked, as OpenAI does


def test_the_emulator_answers_a_chat_completion_shape(ai):
    answer = requests.post(
        ai.url + "/chat/completions",
        json={"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": "Company name: Ромашка"}]},
        headers={"Authorization": f"Bearer {KEY}"},
    ).json()

    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    choice = answer["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert set(json.loads(choice["message"]["content"])) == {"subject", "body"}
    assert answer["usage"]["total_tokens"] > 0
