"""Synthetic Telegram groups for tests and the demo. No real person is in here:
names are drawn from short lists of common first and last names."""

import random
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from .gateway import GroupInfo, NotFound, Participant, parse_group_ref

LATIN_FIRST = [
    "Alex",
    "Maria",
    "Ivan",
    "Anna",
    "Pavel",
    "Olga",
    "Dmitry",
    "Elena",
    "Sergey",
    "Nina",
    "Oleg",
    "Irina",
    "Max",
    "Kate",
    "Roman",
    "Daria",
    "Artem",
    "Vera",
    "Igor",
    "Yulia",
    "Boris",
    "Zoe",
    "Quentin",
    "Xenia",
]
CYRILLIC_FIRST = [
    "Александр",
    "Мария",
    "Иван",
    "Анна",
    "Павел",
    "Ольга",
    "Дмитрий",
    "Елена",
    "Сергей",
    "Нина",
    "Олег",
    "Ирина",
    "Юрий",
    "Татьяна",
    "Роман",
    "Дарья",
    "Артём",
    "Вера",
    "Игорь",
    "Юлия",
    "Борис",
    "Женя",
    "Саша",
    "Фёдор",
    "Эльвира",
    "Цветана",
    "Шамиль",
    "Щукина",
    "Ярослав",
    "Хасан",
    "Чулпан",
]
LATIN_LAST = [
    "Smirnov",
    "Ivanova",
    "Kuznetsov",
    "Popova",
    "Sokolov",
    "Lebedeva",
    "Kozlov",
    "Novikova",
    "Morozov",
    "Volkova",
    "Zaytsev",
    "Pavlova",
    "Semenov",
    "Golubeva",
    "Vinogradov",
    "Bogdanova",
    "Fedorov",
    "Ward",
]
CYRILLIC_LAST = [
    "Смирнов",
    "Иванова",
    "Кузнецов",
    "Попова",
    "Соколов",
    "Лебедева",
    "Козлов",
    "Новикова",
    "Морозов",
    "Волкова",
    "Зайцев",
    "Павлова",
    "Семёнов",
    "Голубева",
    "Виноградов",
    "Богданова",
    "Фёдоров",
    "Щербаков",
]


def synthetic_people(count: int, *, seed: int, first_id: int = 1_000_000_000) -> list[Participant]:
    rng = random.Random(seed)
    people = []
    for n in range(count):
        cyrillic = rng.random() < 0.5
        first = rng.choice(CYRILLIC_FIRST if cyrillic else LATIN_FIRST)
        last = rng.choice(CYRILLIC_LAST if cyrillic else LATIN_LAST) if rng.random() < 0.8 else None
        username = f"{rng.choice(LATIN_FIRST).lower()}_{rng.getrandbits(24):06x}" if rng.random() < 0.7 else None
        people.append(
            Participant(
                id=first_id + n,
                username=username,
                first_name=first,
                last_name=last,
                is_bot=rng.random() < 0.01,
                is_premium=rng.random() < 0.1,
                status=rng.choice(["recently", "last_week", "last_month", "offline", "online"]),
            )
        )
    return people


@dataclass
class FakeGroup:
    id: int
    title: str
    username: str | None
    members: list[Participant]
    listing_cap: int | None = None  # the plain listing stops here (about 10,000 for non-admins)
    search_cap: int | None = None  # one search query returns at most this many
    hidden: bool = False  # the member list is hidden: only admins come back
    private: bool = False  # AccessDenied for this account
    first_message_date: datetime | None = None
    flood_waits: dict[tuple[str, int], int] = field(default_factory=dict)  # (query, page) -> seconds, once
    broadcast: bool = False  # a channel: members cannot post
    admin_required: bool = False  # joining needs an admin's approval (the join fails)
    joined_by: set[str] = field(default_factory=set)  # accounts that are members
    _searches: dict[tuple[str, int], list[Participant]] = field(default_factory=dict, repr=False)

    @property
    def info(self) -> GroupInfo:
        # Like Telegram: the count follows who is in the group right now.
        return GroupInfo(id=self.id, title=self.title, username=self.username, participants_count=len(self.members))

    @property
    def admins(self) -> list[Participant]:
        return [p for p in self.members if p.is_admin]

    def search(self, query: str, people: list[Participant]) -> list[Participant]:
        """Telegram's member search: a word of the name or the username starts with the query."""
        key = (query, len(people))
        if key not in self._searches:
            # Whoever matches "abc" also matches "ab": search the parent's result, not everyone.
            pool = self.search(query[:-1], people) if len(query) > 1 else people
            self._searches[key] = [p for p in pool if any(w.startswith(query) for w in _words(p))]
        return self._searches[key]


def _words(person: Participant) -> list[str]:
    return " ".join(filter(None, [person.first_name, person.last_name, person.username])).lower().split()


class FakeWorld:
    """What the fake Telegram knows. Tests build one; the demo uses `demo_world()`."""

    def __init__(self):
        self.groups: dict[int, FakeGroup] = {}
        self.requests: list[tuple[float, str, str]] = []  # (Unix time, account, method), in order
        self.invites: dict[str, int | None] = {}  # invite hash -> group id; None = expired
        self.join_flood_waits: dict[str, list[int]] = {}  # account -> FloodWait seconds for its next joins
        self.revoked_sessions: set[str] = set()

    def add_group(
        self,
        group_id: int,
        title: str,
        members: list[Participant],
        *,
        username: str | None = None,
        admins: int = 2,
        **options,
    ) -> FakeGroup:
        members = [replace(p, is_admin=True) if i < admins else p for i, p in enumerate(members)]
        group = FakeGroup(id=group_id, title=title, username=username, members=members, **options)
        self.groups[group_id] = group
        return group

    def add_invite(self, invite_hash: str, group_id: int | None) -> None:
        """An invite link to a group; `None` makes it an expired one."""
        self.invites[invite_hash] = group_id

    def inject_join_flood_wait(self, account: str, seconds: int) -> None:
        """The account's next join answers FloodWait(seconds), once."""
        self.join_flood_waits.setdefault(account, []).append(seconds)

    def inject_flood_wait(self, group_id: int, *, page: int, seconds: int, query: str = "") -> None:
        """The request for that page (1-based) of that listing answers FloodWait once."""
        self.groups[group_id].flood_waits[(query, page)] = seconds

    def find(self, ref: str | int) -> FakeGroup:
        wanted = parse_group_ref(ref)
        for group in self.groups.values():
            if wanted == group.info.id or (
                isinstance(wanted, str) and group.info.username and group.info.username.lower() == wanted.lower()
            ):
                return group
        raise NotFound(f"no group {ref}")


def demo_world() -> FakeWorld:
    """A reference group, three offline events that overlap with it and each other, and a big group."""
    world = FakeWorld()
    people = synthetic_people(1500, seed=2024)
    world.add_group(
        -1001000000001,
        "Demo Space (reference)",
        people[:300],
        username="demo_space",
        first_message_date=datetime(2023, 3, 1, tzinfo=UTC),
    )
    world.add_group(
        -1001000000011,
        "Meetup #1 (offline)",
        people[200:600],
        username="demo_meetup_1",
        first_message_date=datetime(2024, 2, 10, tzinfo=UTC),
    )
    world.add_group(
        -1001000000012,
        "Meetup #2 (offline)",
        people[250:500] + people[700:900],
        username="demo_meetup_2",
        first_message_date=datetime(2024, 9, 14, tzinfo=UTC),
    )
    world.add_group(
        -1001000000013,
        "Conference 2025 (offline)",
        people[400:1400],
        username="demo_conf_2025",
        first_message_date=datetime(2025, 5, 20, tzinfo=UTC),
    )
    world.add_group(
        -1001000000021,
        "Big public chat",
        synthetic_people(3000, seed=7, first_id=2_000_000_000),
        username="demo_big_chat",
        listing_cap=2000,
        search_cap=400,
        first_message_date=datetime(2021, 1, 5, tzinfo=UTC),
    )
    world.add_group(-1001000000022, "Hidden-members chat", people[:800], username="demo_hidden", hidden=True)
    world.add_group(-1001000000023, "Private club", people[900:950], private=True)
    world.add_invite("DemoInvite0001", -1001000000023)
    world.add_invite("DemoExpired001", None)
    world.add_group(-1001000000024, "News channel", people[:50], username="demo_news", broadcast=True)
    return world
