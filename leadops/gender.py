"""Gender estimate from a person's names: deterministic rules, weighted evidence, one threshold.

Shared by telegram_sources (Telegram users) and vk_sync (VK users whose profile has no `sex`).
Every rule that fires adds a signed weight (female +, male -) and a line to the rationale:

    rule                                                  weight  e.g.
    marker ♀ / ♂ anywhere in the names                     3.0    "Anna ♀️"
    marker 👩 / 👨 (also inside 👩‍💻, 👨‍🔧 ...)                 2.0
    pronoun she/her, he/him, она/он, as whole words        3.0    "Anna (she/her)"; "Сон" holds no "он"
    first name in the dictionaries (leadops.gender_names)  2.0    Анна, Kseniya, Xenia, Iuliia, Michael
    patronymic -овна/-евна/-ична, -ович/-евич               2.0    Сергеевна, Petrovich
    Russian surname ending                                 1.5    Иванова, Козлов, Petrovsky, Ivanova
    Latin -in/-yn/-ina/-yna (English words end so too)     0.75   Ilyin: alone it decides nothing
    a first name or surname among the username's tokens    1.0    anna_petrova92, AnnaPetrova

THRESHOLD = 1.0 on the sum: one first name, surname ending, marker or pronoun decides on its own
(so does a name in the username, just), a weak hint does not, and evidence that cancels out
(Анна Петров: +2.0 - 1.5) stays "unknown".

Ambiguous first names (Саша, Женя, Валя, Alex...) add nothing but a rationale line, so the
surname or the other evidence decides. The username usually repeats the name, so it only speaks
for a rule (first name, surname) the name fields left silent. Surname endings need a stem of
2-3 letters (Кин, Лев and Ева are not surnames), and Latin ones are not read on names that are
plainly not Russian: with an English first name (Mary Ivanov keeps her husband's spelling) or
letters a transliteration never produces (w, q, th, oo...).
Latin spellings of the Cyrillic names are derived with several schemes (Юлия: yulia, yuliya,
iuliia, julia...), and a Latin word missing from both dictionaries is read back into Cyrillic
(Victoria -> виктория, Olha -> ольга) before giving up.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import product

from django.utils.translation import gettext_lazy

from . import gender_names

FEMALE, MALE, UNKNOWN = "female", "male", "unknown"
# Model field choices; the labels are what the admin shows, in the user's language.
GENDERS = [(MALE, gettext_lazy("male")), (FEMALE, gettext_lazy("female")), (UNKNOWN, gettext_lazy("unknown"))]
AMBIGUOUS = "ambiguous"
THRESHOLD = 1.0
W_MARKER, W_PERSON_EMOJI, W_PRONOUN = 3.0, 2.0, 3.0
W_FIRST_NAME, W_PATRONYMIC, W_SURNAME, W_WEAK_SURNAME, W_USERNAME = 2.0, 2.0, 1.5, 0.75, 1.0

MARKERS = {"\u2640": (FEMALE, W_MARKER), "\u2642": (MALE, W_MARKER)}
MARKERS |= {"\U0001f469": (FEMALE, W_PERSON_EMOJI), "\U0001f468": (MALE, W_PERSON_EMOJI)}
PRONOUNS = {"she": FEMALE, "her": FEMALE, "она": FEMALE, "he": MALE, "him": MALE, "он": MALE}

# (ending, gender, shortest stem, weight), Cyrillic after folding ё to е (so -ёва is -ева).
SURNAME_CYRILLIC = [
    ("ская", FEMALE, 2, W_SURNAME),
    ("цкая", FEMALE, 2, W_SURNAME),
    ("ский", MALE, 2, W_SURNAME),
    ("цкий", MALE, 2, W_SURNAME),
    ("ской", MALE, 3, W_SURNAME),
    ("цкой", MALE, 2, W_SURNAME),
    ("ова", FEMALE, 2, W_SURNAME),
    ("ева", FEMALE, 2, W_SURNAME),
    ("ина", FEMALE, 3, W_SURNAME),
    ("ына", FEMALE, 3, W_SURNAME),
    ("ов", MALE, 2, W_SURNAME),
    ("ев", MALE, 2, W_SURNAME),
    ("ин", MALE, 3, W_SURNAME),
    ("ын", MALE, 3, W_SURNAME),
]
SURNAME_LATIN = [
    *[(end, FEMALE, 2, W_SURNAME) for end in ("skaya", "skaia", "skaja", "ova", "eva")],
    *[(end, MALE, 2, W_SURNAME) for end in ("skiy", "skii", "skij", "ov", "ev")],
    ("sky", MALE, 3, W_SURNAME),
    ("ina", FEMALE, 3, W_WEAK_SURNAME),
    ("yna", FEMALE, 3, W_WEAK_SURNAME),
    ("in", MALE, 3, W_WEAK_SURNAME),
    ("yn", MALE, 3, W_WEAK_SURNAME),
]
PATRONYMIC = [(end, FEMALE) for end in ("овна", "евна", "ична", "ovna", "evna", "ichna")]
PATRONYMIC += [(end, MALE) for end in ("ович", "евич", "ovich", "evich")]
NOT_SURNAMES = frozenset(gender_names.NOT_SURNAMES.split())
# Letters and pairs no transliteration of Russian produces: a Latin surname with them is not Russian.
FOREIGN_LATIN = re.compile(r"w|q|th|ph|ck|oo|ou|gh|ea")

WORD = re.compile(r"[^\W\d_]+")  # letters only: digits, _, punctuation and emoji split words
CAMEL = re.compile(r"(?<=[a-zа-яё])(?=[A-ZА-ЯЁ])")
CYRILLIC_WORD = re.compile(r"[а-я]+")
LATIN_WORD = re.compile(r"[a-z]+")
FOLD = str.maketrans({"ё": "е", "і": "и", "ї": "и", "є": "е", "ґ": "г", "ў": "у"})


@dataclass(frozen=True)
class GenderEstimate:
    gender: str  # "male" | "female" | "unknown"
    score: float  # the weighted sum: > 0 leans female, < 0 male
    rationale: tuple[str, ...]  # one line per rule that fired, in the order they were checked


def fold(word: str) -> str:
    """Lower case; ё -> е (and Ukrainian/Belarusian letters to Russian); accents off Latin letters."""
    word = word.lower().translate(FOLD)
    if word.isascii():
        return word
    return "".join(ch if "\u0400" <= ch <= "\u04ff" else _without_accents(ch) for ch in word)


def _without_accents(char: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))


# --- transliteration, both ways ----------------------------------------------------------------

TO_LATIN = {
    "а": ("a",), "б": ("b",), "в": ("v",), "г": ("g",), "д": ("d",), "е": ("e",), "ё": ("e", "yo", "io", "jo"),
    "ж": ("zh", "j"), "з": ("z",), "и": ("i",), "й": ("y", "i", "j"), "к": ("k",), "л": ("l",), "м": ("m",),
    "н": ("n",), "о": ("o",), "п": ("p",), "р": ("r",), "с": ("s",), "т": ("t",), "у": ("u",), "ф": ("f",),
    "х": ("kh", "h"), "ц": ("ts", "c", "tz"), "ч": ("ch",), "ш": ("sh",), "щ": ("shch", "sch"), "ъ": ("",),
    "ы": ("y", "i"), "ь": ("",), "э": ("e",), "ю": ("yu", "iu", "ju"), "я": ("ya", "ia", "ja"),
}  # fmt: skip
# Letter pairs the schemes write as a unit: Ксения = Xenia, Юлия = Iuliia/Yuliya, Дмитрий = Dmitry.
TO_LATIN_PAIRS = {
    "кс": ("ks", "x"),
    "ия": ("ia", "iya", "iia", "ija"),
    "ий": ("iy", "ii", "y", "i", "ij"),
    "ый": ("yy", "y", "iy"),
    "ья": ("ya", "ia", "ja", "iya"),
    "ье": ("ye", "ie", "e"),
    "ью": ("yu", "iu", "ju"),
}
FROM_LATIN = {
    "shch": ("щ",), "sch": ("щ", "ш"), "zh": ("ж",), "kh": ("х",), "ts": ("ц", "тс"), "tz": ("ц",),
    "ch": ("ч",), "sh": ("ш",), "ph": ("ф",), "th": ("т",), "ck": ("к",), "ks": ("кс",), "x": ("кс", "х"),
    "yu": ("ю", "ью"), "iu": ("ю", "ью"), "ju": ("ю",), "ya": ("я", "ья"), "ia": ("я", "ия", "ья"), "ja": ("я",),
    "yo": ("е", "йо"), "io": ("е",), "jo": ("е",), "ye": ("е", "ье"), "ie": ("ие", "ье"),
    "a": ("а",), "b": ("б",), "c": ("к", "ц", "с"), "d": ("д",), "e": ("е", "э"), "f": ("ф",), "g": ("г",),
    "h": ("х", "г"), "i": ("и", "й", "ий"), "j": ("й", "ж", "дж"), "k": ("к",), "l": ("л",), "m": ("м",),
    "n": ("н",), "o": ("о",), "p": ("п",), "q": ("к",), "r": ("р",), "s": ("с",), "t": ("т",), "u": ("у", "ю"),
    "v": ("в",), "w": ("в",), "y": ("ы", "й", "и", "ий"), "z": ("з",),
}  # fmt: skip
VOWELS = set("аеёиоуыэюяьъ")


def latin_spellings(name: str) -> set[str]:
    """Every Latin spelling of a Cyrillic name the common schemes give (passport, ICAO, scholarly, loose)."""
    word, parts, i = name.lower(), [], 0
    while i < len(word):
        if word[i : i + 2] in TO_LATIN_PAIRS:
            parts.append(TO_LATIN_PAIRS[word[i : i + 2]])
            i += 2
            continue
        options = TO_LATIN.get(word[i], (word[i],))
        if word[i] == "е" and (i == 0 or word[i - 1] in VOWELS):
            options = ("e", "ye")  # Елена = Elena or Yelena
        parts.append(options)
        i += 1
    return {"".join(p) for p in product(*parts)}


def cyrillic_readings(word: str) -> set[str]:
    """The dictionary names a Latin word can be read as (Victoria -> виктория, Olha -> ольга).

    A search over the Latin letter groups, cut wherever the Cyrillic so far starts no known
    name, so it stays short for the ordinary words most usernames are made of.
    """
    word = fold(word)
    prefixes, names = _cyrillic_prefixes(), _cyrillic_names()
    found: set[str] = set()
    stack, seen = [(0, "")], set()
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        pos, built = state
        if pos == len(word):
            found.update(c for c in (built, built + "ь") if c in names)
            continue
        if built and built + "ь" in prefixes:  # Latin drops the soft sign: Olga = Ольга
            stack.append((pos, built + "ь"))
        for size in (4, 3, 2, 1):
            for letters in FROM_LATIN.get(word[pos : pos + size], ()) if pos + size <= len(word) else ():
                if built + letters in prefixes:
                    stack.append((pos + size, built + letters))
    return found


# --- dictionaries ------------------------------------------------------------------------------


def _merge(index: dict, key: str, entry: tuple) -> None:
    """A name two genders claim (Ян/Jan, Карен/Karen) is ambiguous."""
    old = index.get(key)
    if old is not None and old[0] != entry[0]:
        entry = (AMBIGUOUS, *entry[1:])
    index[key] = entry


@cache
def _cyrillic_names() -> dict[str, str]:
    index: dict[str, tuple] = {}
    for words, gender in _cyrillic_lists():
        for name in words:
            _merge(index, fold(name), (gender,))
    return {key: entry[0] for key, entry in index.items()}


def _cyrillic_lists():
    return (
        (gender_names.FEMALE_CYRILLIC.split(), FEMALE),
        (gender_names.MALE_CYRILLIC.split(), MALE),
        (gender_names.AMBIGUOUS_CYRILLIC.split(), AMBIGUOUS),
    )


@cache
def _cyrillic_prefixes() -> frozenset[str]:
    return frozenset(name[:i] for name in _cyrillic_names() for i in range(1, len(name) + 1))


@cache
def _latin_names() -> dict[str, tuple[str, str, bool]]:
    """Latin spelling -> (gender, canonical name, is a Russian name)."""
    index: dict[str, tuple] = {}
    for words, gender in _cyrillic_lists():
        for name in words:
            for spelling in latin_spellings(name):
                _merge(index, spelling, (gender, fold(name), True))
    for words, gender in (
        (gender_names.FEMALE_LATIN.split(), FEMALE),
        (gender_names.MALE_LATIN.split(), MALE),
        (gender_names.AMBIGUOUS_LATIN.split(), AMBIGUOUS),
    ):
        for name in words:
            # Anna is Russian and English: it stays Russian, so the surname rules still apply.
            russian = index.get(name, (None, None, False))[2]
            _merge(index, name, (gender, index.get(name, (None, name))[1], russian))
    return index


@lru_cache(maxsize=100_000)
def lookup_first_name(word: str) -> tuple[str, str, bool] | None:
    """(female|male|ambiguous, canonical name, is Russian) for a folded word that is a first name."""
    if CYRILLIC_WORD.fullmatch(word):
        gender = _cyrillic_names().get(word)
        return (gender, word, True) if gender else None
    if not LATIN_WORD.fullmatch(word):
        return None
    entry = _latin_names().get(word)
    if entry:
        return entry
    readings = sorted(cyrillic_readings(word))
    genders = {_cyrillic_names()[r] for r in readings}
    if not genders:
        return None
    return (genders.pop() if len(genders) == 1 else AMBIGUOUS, readings[0], True)


def _ending(word: str, table) -> tuple:
    for end, gender, stem, weight in table:
        if word.endswith(end) and len(word) - len(end) >= stem:
            return end, gender, weight
    return ()


@dataclass(frozen=True, slots=True)
class _Word:
    """What the rules need to know about one word; computed once per distinct word (cached)."""

    text: str  # as written
    folded: str
    pronoun: str | None
    name: tuple | None  # lookup_first_name()
    patronymic: str | None
    surname: tuple  # (ending, gender, weight) or ()
    foreign: bool  # Latin, with letters no transliteration of Russian produces
    latin: bool


@lru_cache(maxsize=200_000)
def _word(text: str) -> _Word:
    folded = fold(text)
    latin = bool(LATIN_WORD.fullmatch(folded))
    name = lookup_first_name(folded) if folded not in PRONOUNS else None
    surname = ()
    if CYRILLIC_WORD.fullmatch(folded):
        surname = _ending(folded, SURNAME_CYRILLIC)
    elif latin:
        surname = _ending(folded, SURNAME_LATIN)
    return _Word(
        text=text,
        folded=folded,
        pronoun=PRONOUNS.get(folded),
        name=name,
        patronymic=next((g for end, g in PATRONYMIC if folded.endswith(end) and len(folded) - len(end) >= 2), None),
        surname=() if folded in NOT_SURNAMES else surname,
        foreign=latin and bool(FOREIGN_LATIN.search(folded)),
        latin=latin,
    )


def _words(value: str, *, camel: bool = False) -> list[_Word]:
    if not value:
        return []
    if not value.isascii():
        value = unicodedata.normalize("NFC", value)  # a й typed as и + breve is one letter, not a break
    if camel:
        value = CAMEL.sub(" ", value)
    return [_word(w) for w in WORD.findall(value)]


# --- the estimate ------------------------------------------------------------------------------


class _Evidence:
    def __init__(self):
        self.score = 0.0
        self.lines: list[str] = []
        self.keys: set = set()

    def add(self, key, gender: str | None, weight: float, text: str) -> None:
        if key in self.keys:
            return
        self.keys.add(key)
        if gender in (FEMALE, MALE):
            self.score += weight if gender == FEMALE else -weight
            text = f"{text} → {gender} {weight:g}"
        self.lines.append(text)


def estimate_gender(
    *, first_name: str = "", last_name: str = "", username: str = "", display_name: str = ""
) -> GenderEstimate:
    ev = _Evidence()
    fields = (first_name or "", last_name or "", display_name or "")
    if not all(value.isascii() for value in fields):
        for char, (gender, weight) in MARKERS.items():
            if any(char in value for value in fields):
                ev.add(("marker", char), gender, weight, f"marker {char}")

    # (word, is in the display name): free text there, so only capitalised words may be surnames
    words = [(w, i == 2) for i, value in enumerate(fields) for w in _words(value)]
    user_words = _words(username, camel=True)
    said: dict[str, dict] = {FEMALE: {}, MALE: {}}  # pronouns in the order written, once each
    for word in [*(w for w, _ in words), *user_words]:
        if word.pronoun:
            said[word.pronoun][word.folded] = None
    for gender, pronouns in said.items():
        if pronouns:
            ev.add(("pronoun", gender), gender, W_PRONOUN, "pronoun " + "/".join(pronouns))

    rest, named, english = [], False, None
    for word, in_display in words:
        if word.pronoun or len(word.folded) < 2:
            continue
        if word.name is None:
            rest.append((word, in_display))
            continue
        gender, canonical, russian = word.name
        if gender == AMBIGUOUS:
            ev.add(("name", canonical), None, 0, f"first name {word.text} is ambiguous")
            continue
        named = True
        ev.add(("name", canonical), gender, W_FIRST_NAME, f"first name {word.text}")
        if not russian and english is None:
            english = word.text

    surnamed = False
    for word, in_display in rest:
        if word.patronymic:
            ev.add(("patronymic", word.folded), word.patronymic, W_PATRONYMIC, f"patronymic {word.text}")
            continue
        if not word.surname or (in_display and not word.text[0].isupper()):
            continue
        end, gender, weight = word.surname
        if word.latin and (english or word.foreign):
            reason = f"the first name {english} is English" if english else "not a Russian spelling"
            ev.add(("skip", word.folded), None, 0, f"surname ending -{end} of {word.text} not used: {reason}")
            continue
        surnamed = True
        ev.add(("surname", word.folded), gender, weight, f"surname ending -{end} in {word.text}")

    for word in user_words:  # the username speaks only where the names said nothing
        if word.pronoun or len(word.folded) < 3:
            continue
        if word.name:
            if not named and word.name[0] != AMBIGUOUS:
                ev.add(("name", word.name[1]), word.name[0], W_USERNAME, f"username word {word.text} is a first name")
            continue
        if surnamed or not word.surname or word.surname[2] < W_SURNAME or (word.latin and (english or word.foreign)):
            continue
        end, gender, _ = word.surname
        ev.add(("surname", word.folded), gender, W_USERNAME, f"username word {word.text} has surname ending -{end}")

    score = round(ev.score, 2)
    gender = FEMALE if score >= THRESHOLD else MALE if score <= -THRESHOLD else UNKNOWN
    return GenderEstimate(gender=gender, score=score, rationale=tuple(ev.lines))
