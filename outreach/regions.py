"""City / country names from the niches sheet -> Yandex search region ids (`lr`).

Lookup is forgiving about how a name was typed: case, ё/е, any hyphen or dash
(the original table spelled Санкт‑Петербург with a non-breaking hyphen U+2011, so
the ordinary spelling fell back to 225), spaces around dashes, dots, a leading
"г." / "город". Russian cities come from Yandex Cloud's "Search regions" page; a
name we do not know gives None, and `resolve_lr` falls back city -> country -> 225.
"""

import re
import unicodedata

DEFAULT_LR = 225  # Russia

# Every character someone may type (or paste from Word / a sheet) for "-".
DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u00ad"
_DASH_RE = re.compile(f"[{DASHES}]")

# lr -> spellings (Russian first, then Latin). Keys are normalised with `key()` at import.
_CITIES: dict[int, tuple[str, ...]] = {
    213: ("Москва", "Moscow", "Moskva"),
    2: ("Санкт-Петербург", "Петербург", "СПб", "Питер", "Saint Petersburg", "St Petersburg", "Sankt-Peterburg"),
    1: ("Москва и Московская область", "Московская область", "Подмосковье", "Moscow Oblast", "Moscow Region"),
    10174: ("Санкт-Петербург и Ленинградская область", "Ленинградская область", "Leningrad Oblast"),
    65: ("Новосибирск", "Novosibirsk"),
    54: ("Екатеринбург", "Yekaterinburg", "Ekaterinburg"),
    43: ("Казань", "Kazan"),
    47: ("Нижний Новгород", "Nizhny Novgorod", "Nizhniy Novgorod"),
    56: ("Челябинск", "Chelyabinsk"),
    51: ("Самара", "Samara"),
    66: ("Омск", "Omsk"),
    39: ("Ростов-на-Дону", "Rostov-on-Don", "Rostov-na-Donu"),
    172: ("Уфа", "Ufa"),
    62: ("Красноярск", "Krasnoyarsk"),
    50: ("Пермь", "Perm"),
    193: ("Воронеж", "Voronezh"),
    38: ("Волгоград", "Volgograd"),
    35: ("Краснодар", "Krasnodar"),
    194: ("Саратов", "Saratov"),
    55: ("Тюмень", "Tyumen"),
    240: ("Тольятти", "Togliatti", "Tolyatti"),
    44: ("Ижевск", "Izhevsk"),
    197: ("Барнаул", "Barnaul"),
    195: ("Ульяновск", "Ulyanovsk"),
    63: ("Иркутск", "Irkutsk"),
    76: ("Хабаровск", "Khabarovsk"),
    16: ("Ярославль", "Yaroslavl"),
    75: ("Владивосток", "Vladivostok"),
    28: ("Махачкала", "Makhachkala"),
    67: ("Томск", "Tomsk"),
    48: ("Оренбург", "Orenburg"),
    64: ("Кемерово", "Kemerovo"),
    237: ("Новокузнецк", "Novokuznetsk"),
    11: ("Рязань", "Ryazan"),
    37: ("Астрахань", "Astrakhan"),
    236: ("Набережные Челны", "Naberezhnye Chelny"),
    49: ("Пенза", "Penza"),
    9: ("Липецк", "Lipetsk"),
    15: ("Тула", "Tula"),
    46: ("Киров", "Kirov"),
    45: ("Чебоксары", "Cheboksary"),
    22: ("Калининград", "Kaliningrad"),
    191: ("Брянск", "Bryansk"),
    8: ("Курск", "Kursk"),
    5: ("Иваново", "Ivanovo"),
    235: ("Магнитогорск", "Magnitogorsk"),
    14: ("Тверь", "Tver"),
    36: ("Ставрополь", "Stavropol"),
    4: ("Белгород", "Belgorod"),
    239: ("Сочи", "Sochi"),
    20: ("Архангельск", "Arkhangelsk"),
    1092: ("Назрань", "Nazran"),
    30: ("Нальчик", "Nalchik"),
    77: ("Благовещенск", "Blagoveshchensk"),
    10: ("Орёл", "Oryol", "Orel"),
    24: ("Великий Новгород", "Veliky Novgorod", "Novgorod"),
    33: ("Владикавказ", "Vladikavkaz"),
    192: ("Владимир", "Vladimir"),
    25: ("Псков", "Pskov"),
    21: ("Вологда", "Vologda"),
    1106: ("Грозный", "Grozny"),
    42: ("Саранск", "Saransk"),
    12: ("Смоленск", "Smolensk"),
    41: ("Йошкар-Ола", "Yoshkar-Ola"),
    973: ("Сургут", "Surgut"),
    13: ("Тамбов", "Tambov"),
    7: ("Кострома", "Kostroma"),
    53: ("Курган", "Kurgan"),
    1104: ("Черкесск", "Cherkessk"),
    23: ("Мурманск", "Murmansk"),
    # Beyond Russia
    143: ("Киев", "Київ", "Kyiv", "Kiev"),
    157: ("Минск", "Minsk"),
    162: ("Алматы", "Алма-Ата", "Almaty"),
    163: ("Астана", "Astana"),
    10335: ("Ташкент", "Tashkent"),
}

_COUNTRIES: dict[int, tuple[str, ...]] = {
    225: ("Россия", "РФ", "Российская Федерация", "Russia", "Russian Federation", "RU"),
    187: ("Украина", "Україна", "Ukraine", "UA"),
    149: ("Беларусь", "Белоруссия", "Республика Беларусь", "Belarus", "BY"),
    159: ("Казахстан", "Республика Казахстан", "Kazakhstan", "KZ"),
    171: ("Узбекистан", "Uzbekistan", "UZ"),
    168: ("Армения", "Armenia", "AM"),
    167: ("Азербайджан", "Azerbaijan", "AZ"),
    169: ("Грузия", "Georgia"),
    207: ("Киргизия", "Кыргызстан", "Kyrgyzstan", "KG"),
    208: ("Молдова", "Молдавия", "Moldova", "MD"),
    209: ("Таджикистан", "Tajikistan", "TJ"),
    170: ("Туркмения", "Туркменистан", "Turkmenistan", "TM"),
    983: ("Турция", "Turkey", "Türkiye", "TR"),
    96: ("Германия", "Germany", "DE"),
    84: ("США", "Соединённые Штаты", "USA", "United States", "US"),
}


def normalize_dashes(text: str) -> str:
    """Every hyphen / dash / minus -> "-" (soft hyphens simply vanish)."""
    return _DASH_RE.sub(lambda m: "" if m.group() == "\u00ad" else "-", text)


def key(name: str | None) -> str:
    """The lookup form of a name: "  г. Санкт‑ПЕТЕРБУРГ " and "Санкт Петербург" -> "санкт петербург"."""
    text = unicodedata.normalize("NFKC", name or "")
    text = normalize_dashes(text).casefold().replace("ё", "е")
    text = re.sub(r"[-.,()]", " ", text)
    text = " ".join(text.split())
    text = re.sub(r"^(?:г|гор|город)\s+(?=\S)", "", text)  # "г. Москва", "город Москва"
    return text


def _index(table: dict[int, tuple[str, ...]]) -> dict[str, int]:
    index: dict[str, int] = {}
    for lr, names in table.items():
        for name in names:
            k = key(name)
            if index.get(k, lr) != lr:
                raise ValueError(f"region table: {name!r} maps to both {index[k]} and {lr}")
            index[k] = lr
    return index


CITY_LR = _index(_CITIES)
COUNTRY_LR = _index(_COUNTRIES)


def city_lr(name: str | None) -> int | None:
    return CITY_LR.get(key(name)) if name else None


def country_lr(name: str | None) -> int | None:
    return COUNTRY_LR.get(key(name)) if name else None


def resolve_lr(city: str | None, country: str | None) -> int:
    """The city's region, else the country's, else Russia (225)."""
    lr = city_lr(city)
    if lr is None:
        lr = country_lr(country)
    return DEFAULT_LR if lr is None else lr
