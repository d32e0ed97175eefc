"""The admin in Russian (the default, the team's language) and in English.

The catalog (locale/ru/LC_MESSAGES/django.po) translates every string we mark, its compiled
django.mo says the same (CI has no msgfmt, so the .mo is committed and must not go stale),
the pages an operator works in speak Russian with no English of ours left over, a user
switches with the header's language menu, and LANGUAGE_CODE comes from the environment.
"""

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys

import pytest
from django.urls import reverse
from django.utils import translation

from leadops.models import JobRun
from tests.conftest import ROOT

CATALOG = ROOT / "locale" / "ru" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|\{\d*\}")


# --- the catalog ----------------------------------------------------------------------------------


def read_po(text: str) -> list[dict]:
    """The entries of a .po file as makemessages writes it: flags, msgctxt, msgid, msgid_plural, msgstr(s)."""
    entries = []
    for block in text.split("\n\n"):
        entry = {"flags": set(), "msgstr": {}}
        key = None
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                value = ast.literal_eval(line)
                if isinstance(key, int):
                    entry["msgstr"][key] += value
                else:
                    entry[key] += value
            else:
                word, _, quoted = line.partition(" ")
                match = re.fullmatch(r"msgstr\[(\d+)\]", word)
                key = int(match.group(1)) if match else (0 if word == "msgstr" else word)
                if isinstance(key, int):
                    entry["msgstr"][key] = ast.literal_eval(quoted)
                else:
                    entry[key] = ast.literal_eval(quoted)
        if "msgid" in entry:
            entries.append(entry)
    return entries


def messages() -> list[dict]:
    """Every entry but the header."""
    return [entry for entry in read_po((CATALOG / "django.po").read_text()) if entry["msgid"]]


def test_the_russian_catalog_translates_every_message():
    entries = messages()
    assert len(entries) > 500  # the whole admin, not a sample

    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    forms = [e["msgid"] for e in entries if "msgid_plural" in e and len(e["msgstr"]) != 4]  # Russian: 4 forms
    assert not untranslated, f"no Russian for: {untranslated[:5]}"
    assert not fuzzy, f"fuzzy (unchecked) entries: {fuzzy[:5]}"
    assert not forms, f"plural entries without the 4 Russian forms: {forms[:5]}"


def test_every_translation_keeps_the_placeholders():
    def names(text):
        return sorted(re.sub(r"\{\d+\}", "{}", p) for p in PLACEHOLDER.findall(text))

    wrong = [
        (entry["msgid"], msgstr)
        for entry in messages()
        for msgstr in entry["msgstr"].values()
        if names(msgstr) != names(entry["msgid"])
    ]
    assert not wrong, f"placeholders differ: {wrong[:3]}"


def test_the_compiled_catalog_is_the_po_file():
    """Edit the .po and forget `manage.py compilemessages`: this fails (the app reads only the .mo)."""
    expected = {}
    for entry in messages():
        msgid = entry["msgid"] if "msgctxt" not in entry else f"{entry['msgctxt']}\x04{entry['msgid']}"
        if "msgid_plural" in entry:
            expected.update({(msgid, n): text for n, text in entry["msgstr"].items()})
        else:
            expected[msgid] = entry["msgstr"][0]

    with open(CATALOG / "django.mo", "rb") as mo:
        compiled = gettext.GNUTranslations(mo)
    catalog = {key: value for key, value in compiled._catalog.items() if key != ""}  # "" is the header

    assert compiled.info().get("language") == "ru"
    assert catalog.keys() == expected.keys(), "django.mo and django.po hold different messages: recompile"
    stale = [key for key in expected if catalog[key] != expected[key]]
    assert not stale, f"django.mo is older than django.po for {stale[:3]}: run manage.py compilemessages"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="needs GNU gettext (apt-get install gettext)")
def test_every_marked_string_is_in_the_catalog(tmp_path):
    """makemessages on a copy of the project finds exactly the messages the committed catalog has."""
    ignore = shutil.ignore_patterns(".*", "__pycache__", "var", "tests", "docs", "node_modules", "*.mo")
    copy = tmp_path / "project"
    shutil.copytree(ROOT, copy, ignore=ignore)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "leadops.settings", "DEBUG": "true", "PYTHONPATH": str(copy)}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ru", "--no-obsolete"],
        cwd=copy,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    found = {e["msgid"] for e in read_po((copy / "locale/ru/LC_MESSAGES/django.po").read_text()) if e["msgid"]}
    committed = {e["msgid"] for e in messages()}
    assert not found - committed, f"marked but not in the catalog (run makemessages): {sorted(found - committed)[:5]}"
    assert not committed - found, f"in the catalog but no longer marked: {sorted(committed - found)[:5]}"


def test_models_name_themselves_in_russian():
    with translation.override("ru"):
        assert str(JobRun._meta.verbose_name_plural) == "задачи"
        assert str(JobRun._meta.get_field("status").verbose_name) == "статус"
        assert JobRun(status=JobRun.Status.QUEUED).get_status_display() == "В очереди"
    with translation.override("en"):
        assert JobRun(status=JobRun.Status.QUEUED).get_status_display() == "Queued"


# --- the pages, in Russian ------------------------------------------------------------------------


@pytest.fixture
def russian(settings):
    settings.LANGUAGE_CODE = "ru"  # what a deployment without LANGUAGE_CODE runs with


@pytest.fixture
def job(db):
    return JobRun.objects.create(kind="tg-export", target="Synthetic group", status="running", progress_total=10)


def page(client, url, **headers) -> str:
    response = client.get(url, **headers)
    assert response.status_code == 200, url
    return response.content.decode()


def english_leftovers(html: str) -> list[str]:
    """Our English phrases still in a page that should be Russian (long ones: short words occur in markup)."""
    text = re.sub(r"<(script|style)\b.*?</\1>|<[^>]+>", " ", html, flags=re.S)  # the words, not the markup
    phrases = {
        e["msgid"]
        for e in messages()
        if " " in e["msgid"] and len(e["msgid"]) >= 12 and not PLACEHOLDER.search(e["msgid"]) and "<" not in e["msgid"]
        if e["msgid"] != e["msgstr"][0]
    }
    return sorted(phrase for phrase in phrases if phrase in text)


def test_the_admin_index_and_its_dashboard_speak_russian(russian, admin_client, job):
    html = page(admin_client, reverse("admin:index"))

    assert '<html lang="ru"' in html
    assert "Операции" in html  # the index title
    assert "Сидеры" in html and "Задачи и ядро" in html and "Аккаунты Telegram" in html  # the apps
    assert "Сидеры: просмотр следующей десятки" in html
    assert "Последние задачи" in html
    for title in ("Telegram", "Лидогенерация", "Задачи", "Лимиты (за 24 ч)"):  # the dashboard's cards
        assert f">{title}</" in html, title
    assert "выполняются" in html and "Выполняются / в очереди" in html  # the Jobs card, with the running job
    assert not english_leftovers(html)


def test_a_changelist_speaks_russian(russian, admin_client, job):
    html = page(admin_client, reverse("admin:leadops_jobrun_changelist"))

    assert "&rsaquo; Задачи" in html  # the breadcrumbs: the model's plural name
    assert "Выполняется" in html  # the status column
    assert "Прогресс" in html and "Кто запустил" in html  # column headers (capitalised verbose names)
    assert not english_leftovers(html)


def test_the_job_page_speaks_russian(russian, admin_client, job):
    html = page(admin_client, reverse("admin:leadops_jobrun_change", args=[job.pk]))

    assert "Отменить задачу" in html
    assert f"Отменить задачу #{job.pk} (tg-export)?" in html  # the confirmation Cancel asks
    assert 'data-label="обновлено"' in html  # what the live script writes before the time
    assert "Конец лога" in html  # a field label
    assert not english_leftovers(html)


def test_the_seeders_review_page_speaks_russian(russian, admin_client, settings):
    settings.REFERENCE_GROUP = ""
    html = page(admin_client, reverse("admin:seeders_seederbatch_review"))

    assert "Сидеры: просмотр следующего топ-10" in html
    assert "Снимок референса" in html
    assert "REFERENCE_GROUP не задан" in html  # why approving is refused
    assert "Кандидатов не осталось" in html
    assert "Проверить топ-30" in html
    assert not english_leftovers(html)


def test_a_job_cancel_message_speaks_russian(russian, admin_client, job):
    response = admin_client.post(reverse("admin:leadops_jobrun_cancel", args=[job.pk]), follow=True)

    assert f"Отмена запрошена: задача #{job.pk} остановится после текущего шага" in response.content.decode()


def test_the_browser_language_does_not_override_language_code(russian, admin_client, db):
    html = page(admin_client, reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert "Операции" in html  # LANGUAGE_CODE decides until the user picks a language themselves


def test_the_pages_are_english_with_language_code_en(settings, admin_client, job):
    settings.LANGUAGE_CODE = "en"
    html = page(admin_client, reverse("admin:index"))

    assert '<html lang="en"' in html
    assert "Operations" in html and "Latest jobs" in html and "Limits (last 24 h)" in html
    assert "No job is running." not in html  # (a job runs) and the leftover check below does see English:
    assert {"Jobs and core", "Limits (last 24 h)", "Seeders review"} <= set(english_leftovers(html))


# --- switching -------------------------------------------------------------------------------------


def test_a_user_switches_to_english_and_back_with_the_language_menu(russian, admin_client, db):
    index = reverse("admin:index")
    html = page(admin_client, index)
    assert 'id="language-form"' in html and 'name="language" value="en"' in html

    response = admin_client.post(reverse("set_language"), {"language": "en", "next": index})
    assert response.status_code == 302 and response.url == index
    html = page(admin_client, index)
    assert "Operations" in html and "Операции" not in html
    assert 'name="language" value="ru"' in html  # and the way back

    admin_client.post(reverse("set_language"), {"language": "ru", "next": index})
    assert "Операции" in page(admin_client, index)


def test_an_unknown_language_cookie_falls_back_to_language_code(russian, admin_client, db):
    admin_client.cookies["django_language"] = "xx"

    assert "Операции" in page(admin_client, reverse("admin:index"))


# --- LANGUAGE_CODE from the environment --------------------------------------------------------------


def _language_code(**env) -> str:
    """LANGUAGE_CODE as `manage.py shell` sees it with the project's own settings and `env`."""
    base = {k: v for k, v in os.environ.items() if k != "LANGUAGE_CODE"}
    code = "from django.conf import settings; print(settings.LANGUAGE_CODE)"
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env={**base, "DJANGO_SETTINGS_MODULE": "leadops.settings", "DEBUG": "true", **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip().splitlines()[-1]  # after the shell's own "objects imported" line


def test_language_code_comes_from_the_environment_and_defaults_to_russian():
    assert _language_code() == "ru"
    assert _language_code(LANGUAGE_CODE="en") == "en"
