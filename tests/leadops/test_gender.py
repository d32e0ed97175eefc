"""leadops.gender: the rule table, one case per rule in Cyrillic and Latin, and where it stays unknown.

Names are synthetic combinations of common first names and surnames; no real person.
"""

import pytest

from leadops.gender import (
    THRESHOLD,
    GenderEstimate,
    cyrillic_readings,
    estimate_gender,
    latin_spellings,
    lookup_first_name,
)

F, M, U = "female", "male", "unknown"

CASES = [
    # (expected, the rationale line that must be there ("" = none), names)
    # --- first-name dictionaries, Cyrillic --------------------------------------------------
    (F, "first name Анна", {"first_name": "Анна"}),
    (M, "first name Дмитрий", {"first_name": "Дмитрий"}),
    (M, "first name Артём", {"first_name": "Артём"}),
    (M, "first name Артем", {"first_name": "Артем"}),  # ё written as е
    (F, "first name Наталія", {"first_name": "Наталія"}),  # Ukrainian spelling
    (M, "first name Дима", {"first_name": "Дима"}),  # a male short form ending in -а
    (F, "first name Айгуль", {"first_name": "Айгуль"}),
    # --- transliterated: Cyrillic name, Latin spelling, several schemes ------------------------
    (F, "first name Yulia", {"first_name": "Yulia"}),
    (F, "first name Iuliia", {"first_name": "Iuliia"}),  # ICAO (passports since 2013)
    (F, "first name Julia", {"first_name": "Julia"}),
    (F, "first name Kseniya", {"first_name": "Kseniya"}),
    (F, "first name Ksenia", {"first_name": "Ksenia"}),
    (F, "first name Xenia", {"first_name": "Xenia"}),
    (M, "first name Dmitriy", {"first_name": "Dmitriy"}),
    (M, "first name Dmitrii", {"first_name": "Dmitrii"}),
    (M, "first name Fyodor", {"first_name": "Fyodor"}),
    (M, "first name Sergei", {"first_name": "Sergei"}),
    (F, "first name Yelena", {"first_name": "Yelena"}),
    # Latin -> Cyrillic for spellings no scheme above gives
    (F, "first name Victoria", {"first_name": "Victoria"}),
    (M, "first name Nicolai", {"first_name": "Nicolai"}),
    (F, "first name Olha", {"first_name": "Olha"}),
    # --- English names, both directions ----------------------------------------------------------
    (M, "first name Michael", {"first_name": "Michael"}),
    (F, "first name Jennifer", {"first_name": "Jennifer"}),
    (M, "first name Джон", {"first_name": "Джон"}),
    # --- ambiguous names: nothing alone, the surname decides -------------------------------------
    (U, "first name Саша is ambiguous", {"first_name": "Саша"}),
    (U, "first name Женя is ambiguous", {"first_name": "Женя"}),
    (U, "first name Sasha is ambiguous", {"first_name": "Sasha"}),
    (U, "first name Alex is ambiguous", {"first_name": "Alex"}),
    (F, "surname ending -ова in Иванова", {"first_name": "Саша", "last_name": "Иванова"}),
    (M, "surname ending -ов in Смирнов", {"first_name": "Женя", "last_name": "Смирнов"}),
    (F, "surname ending -ева in Зуева", {"first_name": "Валя", "last_name": "Зуева"}),
    (M, "surname ending -ov in Ivanov", {"first_name": "Sasha", "last_name": "Ivanov"}),
    (F, "surname ending -skaya in Petrovskaya", {"first_name": "Zhenya", "last_name": "Petrovskaya"}),
    # --- Russian surname endings, Cyrillic ----------------------------------------------------------
    (F, "surname ending -ева in Королёва", {"last_name": "Королёва"}),  # -ёва folds to -ева
    (F, "surname ending -ева in Соловьёва", {"last_name": "Соловьёва"}),
    (F, "surname ending -ина in Ильина", {"last_name": "Ильина"}),
    (F, "surname ending -ына in Птицына", {"last_name": "Птицына"}),
    (F, "surname ending -ская in Петровская", {"last_name": "Петровская"}),
    (F, "surname ending -цкая in Высоцкая", {"last_name": "Высоцкая"}),
    (M, "surname ending -ев in Зайцев", {"last_name": "Зайцев"}),
    (M, "surname ending -ин in Пушкин", {"last_name": "Пушкин"}),
    (M, "surname ending -ын in Птицын", {"last_name": "Птицын"}),
    (M, "surname ending -ский in Петровский", {"last_name": "Петровский"}),
    (M, "surname ending -цкий in Высоцкий", {"last_name": "Высоцкий"}),
    # --- Russian surname endings, Latin -----------------------------------------------------------
    (F, "surname ending -ova in Ivanova", {"last_name": "Ivanova"}),
    (F, "surname ending -eva in Lebedeva", {"last_name": "Lebedeva"}),
    (M, "surname ending -ev in Zaytsev", {"last_name": "Zaytsev"}),
    (M, "surname ending -sky in Petrovsky", {"last_name": "Petrovsky"}),
    (M, "surname ending -skiy in Petrovskiy", {"last_name": "Petrovskiy"}),
    (M, "surname ending -in in Ilyin", {"first_name": "Oleg", "last_name": "Ilyin"}),
    # a weak ending alone (English words end in -in too) decides nothing
    (U, "surname ending -in in Ilyin", {"last_name": "Ilyin"}),
    # stems too short to be a surname
    (U, "", {"last_name": "Кин"}),
    (U, "", {"last_name": "Шин"}),
    # not read on names that are plainly not Russian
    (
        F,
        "surname ending -ov of Ivanov not used: the first name Mary is English",
        {"first_name": "Mary", "last_name": "Ivanov"},
    ),
    (F, "surname ending -in of Goodwin not used", {"first_name": "Anna", "last_name": "Goodwin"}),
    # --- patronymics --------------------------------------------------------------------------------
    (F, "patronymic Сергеевна", {"display_name": "Саша Сергеевна"}),
    (M, "patronymic Petrovich", {"first_name": "Sasha", "last_name": "Petrovich"}),
    # --- explicit markers --------------------------------------------------------------------------
    (F, "marker ♀", {"first_name": "Саша ♀️"}),
    (M, "marker ♂", {"display_name": "Sasha ♂"}),
    (F, "marker 👩", {"display_name": "Женя 👩‍💻"}),
    (M, "marker ♂", {"first_name": "Анна", "last_name": "♂️"}),  # the marker outweighs the name
    # --- pronouns, whole words only ------------------------------------------------------------------
    (F, "pronoun she/her", {"first_name": "Alex", "display_name": "Alex (she/her)"}),
    (M, "pronoun he/him", {"display_name": "Sam, he/him"}),
    (F, "pronoun she", {"first_name": "Jamie", "last_name": "SHE"}),
    (F, "pronoun она", {"display_name": "Саша (она)"}),
    (M, "pronoun он", {"display_name": "Женя, он/его"}),
    (F, "pronoun her", {"username": "sasha_her"}),
    (U, "", {"first_name": "Сон"}),  # the original matched "он" inside any word
    (U, "", {"display_name": "Бетон и Слон"}),
    (U, "", {"display_name": "Sheherazade Theme"}),
    # --- the username, when the names say nothing -----------------------------------------------
    (F, "username word maria is a first name", {"username": "maria_1990"}),
    (F, "username word Petrova has surname ending -ova", {"username": "AnnaPetrova"}),
    (M, "username word dmitry is a first name", {"username": "dmitry.k"}),
    (F, "username word Petrova has surname ending -ova", {"first_name": "Саша", "username": "SashaPetrova"}),
    # --- conflicts and nothing to go on: unknown ------------------------------------------------
    (U, "surname ending -ов in Петров", {"first_name": "Анна", "last_name": "Петров"}),
    (U, "marker ♂", {"first_name": "♀️ ♂️"}),
    (U, "pronoun she/her", {"display_name": "Sam (she/her) (he/him)"}),
    (U, "", {}),
    (U, "", {"first_name": "", "last_name": "", "username": "", "display_name": ""}),
    (U, "", {"first_name": "🚀", "username": "crypto_trader_2024"}),
    (U, "", {"display_name": "Магазин цветов"}),  # everyday words, not a surname
    (U, "", {"display_name": "школа танцев"}),  # lower-case free text is no surname
]


@pytest.mark.parametrize(("expected", "line", "names"), CASES, ids=[repr(c[2]) for c in CASES])
def test_the_rule_table(expected, line, names):
    result = estimate_gender(**names)

    assert result.gender == expected, result
    if line:
        assert any(r.startswith(line) for r in result.rationale), result.rationale
    else:
        assert not any("→" in r for r in result.rationale), result.rationale


def test_the_table_is_at_least_forty_cases():
    assert len(CASES) >= 40


def test_it_says_why_with_the_weight_of_each_rule():
    result = estimate_gender(first_name="Анна", last_name="Иванова", username="anna_i")

    assert result == GenderEstimate(
        gender="female",
        score=3.5,
        rationale=("first name Анна → female 2", "surname ending -ова in Иванова → female 1.5"),
    )


def test_the_username_does_not_repeat_what_the_names_said():
    with_username = estimate_gender(first_name="Анна", last_name="Петров", username="anna_petrov")

    assert with_username.score == estimate_gender(first_name="Анна", last_name="Петров").score
    assert with_username.gender == "unknown"


def test_it_decides_at_the_threshold_and_not_below():
    assert estimate_gender(username="maria_k").score == THRESHOLD  # one username name: just enough
    assert estimate_gender(last_name="Ilyina").gender == "unknown"  # 0.75: a hint, not a decision


def test_it_is_deterministic():
    names = {"first_name": "Zhenya", "last_name": "Ivanova", "username": "ZhenyaI", "display_name": "Женя ♀"}
    assert len({estimate_gender(**names) for _ in range(5)}) == 1


def test_it_treats_none_as_empty():
    assert estimate_gender(first_name=None, last_name=None, username=None).gender == "unknown"


@pytest.mark.parametrize(
    ("name", "spellings"),
    [
        ("Юлия", {"yulia", "yuliya", "iuliia", "julia"}),
        ("Ксения", {"kseniya", "ksenia", "xenia", "kseniia"}),
        ("Пётр", {"petr", "pyotr"}),
        ("Алексей", {"aleksey", "alexey", "aleksei", "alexei"}),
        ("Наталья", {"natalya", "natalia"}),
        ("Елена", {"elena", "yelena"}),
    ],
)
def test_cyrillic_names_have_their_common_latin_spellings(name, spellings):
    assert spellings <= latin_spellings(name)


@pytest.mark.parametrize(
    ("word", "reading"),
    [("victoria", "виктория"), ("olha", "ольга"), ("wladimir", "владимир"), ("igor", "игорь")],
)
def test_latin_words_are_read_back_into_cyrillic(word, reading):
    assert reading in cyrillic_readings(word)


def test_a_name_two_genders_wear_across_alphabets_is_ambiguous():
    assert lookup_first_name("jan")[0] == "male"  # Ян
    assert lookup_first_name("karen")[0] == "ambiguous"  # Карен (m, Armenian) / Karen (f, English)
    assert lookup_first_name("bitcoin") is None
