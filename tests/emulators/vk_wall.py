"""Community walls for the VK emulator: posts, likes, comments and reposts, with VK's caps.

    with VkEmulator() as vk:
        wall = install_wall(vk)                    # registers the methods below on the emulator
        data = build_wall(wall, 1, posts=2500)     # a synthetic wall for group 1 (added if missing)

Methods (over HTTP and inside execute, like VK 5.199):
- `wall.get` (owner_id=-gid, offset, count <= 100, filter all|owner|others): {"count", "items"}; a pinned
  post comes first, the rest newest first. Items: id, owner_id, from_id, date, text, signer_id?,
  created_by?, post_author_data? {"author"}, is_pinned?, attachments (photo with sizes), likes{count},
  comments{count}, reposts{count, wall_count, mail_count}, views{count}.
- `likes.getList` (type=post, owner_id, item_id, offset, count): extended=0 up to 1,000 ids, extended=1
  up to 100 user objects; a larger count is silently capped, exactly as VK does.
- `wall.getComments` (owner_id, post_id, offset, count <= 100, sort asc|desc): {"count",
  "current_level_count", "items": [{id, from_id, post_id, owner_id, date, text, parents_stack, thread}]}.
  Comments are flat (no threads); some come from the community itself (from_id < 0).
- `wall.getReposts` (owner_id, post_id, offset, count <= 1,000): {"items", "profiles", "groups"} and no
  count, like VK; each item carries the original post in copy_history (so answers are heavy). Error 15
  "Access denied" unless the token's admin level in the group is at least 3.

Everything is synthetic and deterministic for a seed; no real person is in here.
"""

import random
from dataclasses import dataclass, field

from .vk import BASE_TIME, VkEmulator, VkError, _int, _user_object, synthetic_profile

POSTS_PAGE = 100
LIKES_IDS_PAGE = 1000
LIKES_OBJECTS_PAGE = 100
COMMENTS_PAGE = 100
REPOSTS_PAGE = 1000
USER_POOL_START = 2_000_000
WORDS = [
    "новости",
    "сегодня",
    "встреча",
    "клуб",
    "фото",
    "отчёт",
    "анонс",
    "конкурс",
    "итоги",
    "вопрос",
    "спасибо",
    "друзья",
    "неделя",
    "город",
]


@dataclass
class Comment:
    id: int
    from_id: int
    date: int
    text: str = ""


@dataclass
class Repost:
    id: int  # the repost's id on its owner's wall
    from_id: int  # the user (or -group) who reposted
    date: int


@dataclass
class WallPost:
    id: int
    date: int
    text: str = ""
    from_id: int = 0  # 0: the community itself (set to -gid when added)
    signer_id: int | None = None
    created_by: int | None = None
    author: int | None = None  # post_author_data.author
    likes: list[int] = field(default_factory=list)  # newest like first, as VK lists them
    comments: list[Comment] = field(default_factory=list)  # oldest first
    reposts: list[Repost] = field(default_factory=list)  # wall reposts, oldest first
    mail_reposts: int = 0  # shared in private messages: counted, never listed
    views: int = 0
    photo: bool = False
    is_pinned: bool = False

    def to_vk(self, owner_id: int) -> dict:
        item = {
            "id": self.id,
            "owner_id": owner_id,
            "from_id": self.from_id or owner_id,
            "date": self.date,
            "text": self.text,
            "post_type": "post",
            "marked_as_ads": 0,
            "attachments": [],
            "comments": {"count": len(self.comments), "can_post": 1, "groups_can_post": True},
            "likes": {"count": len(self.likes), "user_likes": 0, "can_like": 1, "can_publish": 1},
            "reposts": {
                "count": len(self.reposts) + self.mail_reposts,
                "wall_count": len(self.reposts),
                "mail_count": self.mail_reposts,
                "user_reposted": 0,
            },
            "views": {"count": self.views},
            "post_source": {"type": "vk"},
        }
        if self.is_pinned:
            item["is_pinned"] = 1
        if self.signer_id:
            item["signer_id"] = self.signer_id
        if self.created_by:
            item["created_by"] = self.created_by
        if self.author:
            item["post_author_data"] = {"author": self.author}
        if self.photo:
            base = f"https://vk.example/wall{owner_id}_{self.id}"
            item["attachments"].append(
                {
                    "type": "photo",
                    "photo": {
                        "id": 457_000_000 + self.id,
                        "owner_id": owner_id,
                        "album_id": -7,
                        "date": self.date,
                        "sizes": [
                            {"type": "m", "url": f"{base}_m.jpg", "width": 130, "height": 87},
                            {"type": "x", "url": f"{base}_x.jpg", "width": 604, "height": 403},
                            {"type": "y", "url": f"{base}_y.jpg", "width": 807, "height": 538},
                        ],
                    },
                }
            )
        return item

    def photo_url(self, owner_id: int) -> str:
        return f"https://vk.example/wall{owner_id}_{self.id}_y.jpg" if self.photo else ""


class VkWall:
    """The walls of the emulator's groups, and the four methods that read them."""

    def __init__(self, vk: VkEmulator):
        self.vk = vk
        self.walls: dict[int, list[WallPost]] = {}  # group id -> posts, pinned first, then newest first
        for name, fn in (
            ("wall.get", self._wall_get),
            ("likes.getList", self._likes_get_list),
            ("wall.getComments", self._wall_get_comments),
            ("wall.getReposts", self._wall_get_reposts),
        ):
            vk.register_method(name, fn)

    # --- the world (thread-safe: the emulator's lock) ------------------------
    def add_posts(self, group_id: int, posts: list[WallPost]) -> None:
        with self.vk._lock:
            if group_id not in self.vk.groups:
                self.vk.add_group(group_id)
            for post in posts:
                post.from_id = post.from_id or -group_id
            wall = self.walls.setdefault(group_id, []) + list(posts)
            wall.sort(key=lambda p: (not p.is_pinned, -p.date, -p.id))
            self.walls[group_id] = wall

    def post(self, group_id: int, post_id: int) -> WallPost:
        return next(p for p in self.walls[group_id] if p.id == post_id)

    def like(self, group_id: int, post_id: int, user_ids: list[int]) -> None:
        with self.vk._lock:
            post = self.post(group_id, post_id)
            post.likes = [u for u in user_ids if u not in set(post.likes)] + post.likes

    # --- methods (called with the emulator's lock held) ------------------------
    def _wall(self, params: dict) -> tuple[int, list[WallPost]]:
        owner = _int(params, "owner_id")
        if owner >= 0 or -owner not in self.walls:
            raise VkError(100, "One of the parameters specified was missing or invalid: owner_id is incorrect")
        return owner, self.walls[-owner]

    def _find(self, params: dict) -> tuple[int, WallPost]:
        owner, wall = self._wall(params)
        post_id = _int(params, "post_id" if "post_id" in params else "item_id")
        post = next((p for p in wall if p.id == post_id), None)
        if post is None:
            raise VkError(100, "One of the parameters specified was missing or invalid: post not found")
        return owner, post

    def _wall_get(self, params: dict, token):
        owner, wall = self._wall(params)
        offset = max(0, _int(params, "offset", 0))
        count = min(POSTS_PAGE, max(0, _int(params, "count", 20)))
        kind = params.get("filter", "all")
        if kind == "owner":
            wall = [p for p in wall if p.from_id == owner]
        elif kind == "others":
            wall = [p for p in wall if p.from_id != owner]
        elif kind != "all":
            raise VkError(100, f"One of the parameters specified was missing or invalid: filter {kind!r}")
        return {"count": len(wall), "items": [p.to_vk(owner) for p in wall[offset : offset + count]]}

    def _likes_get_list(self, params: dict, token):
        if params.get("type") != "post":
            raise VkError(100, "One of the parameters specified was missing or invalid: type is undefined")
        if params.get("filter", "likes") != "likes":
            raise VkError(100, "One of the parameters specified was missing or invalid: the emulator has no copies")
        _owner, post = self._find(params)
        extended = params.get("extended") in ("1", "true")
        cap = LIKES_OBJECTS_PAGE if extended else LIKES_IDS_PAGE
        offset = max(0, _int(params, "offset", 0))
        count = min(cap, max(0, _int(params, "count", 100)))
        page = post.likes[offset : offset + count]
        if extended:
            items = []
            for user_id in page:
                if user_id < 0:
                    items.append({"type": "group", "id": -user_id, "name": f"Community {-user_id}"})
                else:
                    profile = self.vk.users.get(user_id) or synthetic_profile(user_id)
                    items.append({"type": "profile", **_user_object(profile, set())})
            page = items
        return {"count": len(post.likes), "items": page}

    def _wall_get_comments(self, params: dict, token):
        owner, post = self._find(params)
        offset = max(0, _int(params, "offset", 0))
        count = min(COMMENTS_PAGE, max(0, _int(params, "count", 10)))
        ordered = post.comments if params.get("sort", "asc") == "asc" else post.comments[::-1]
        items = [
            {
                "id": c.id,
                "from_id": c.from_id,
                "post_id": post.id,
                "owner_id": owner,
                "parents_stack": [],
                "date": c.date,
                "text": c.text,
                "thread": {"count": 0, "items": [], "can_post": True, "show_reply_button": True},
            }
            for c in ordered[offset : offset + count]
        ]
        total = len(post.comments)
        return {"count": total, "current_level_count": total, "can_post": True, "items": items}

    def _wall_get_reposts(self, params: dict, token):
        owner, post = self._find(params)
        if token.admin.get(-owner, 0) < 3:
            raise VkError(15, "Access denied")
        offset = max(0, _int(params, "offset", 0))
        count = min(REPOSTS_PAGE, max(0, _int(params, "count", 20)))
        original = post.to_vk(owner)
        original.pop("comments"), original.pop("likes"), original.pop("reposts"), original.pop("views")
        items, profiles, groups = [], [], []
        for repost in post.reposts[offset : offset + count]:
            items.append(
                {
                    "id": repost.id,
                    "owner_id": repost.from_id,
                    "from_id": repost.from_id,
                    "date": repost.date,
                    "post_type": "post",
                    "text": "",
                    "copy_history": [original],
                    "likes": {"count": 0},
                    "reposts": {"count": 0},
                }
            )
            if repost.from_id > 0:
                profile = self.vk.users.get(repost.from_id) or synthetic_profile(repost.from_id)
                profiles.append(_user_object(profile, {"photo_50"}))
            else:
                groups.append({"id": -repost.from_id, "name": f"Community {-repost.from_id}"})
        return {"items": items, "profiles": profiles, "groups": groups}


def install_wall(vk: VkEmulator) -> VkWall:
    return VkWall(vk)


# --- a synthetic dataset ---------------------------------------------------------
@dataclass
class WallDataset:
    group_id: int
    posts: list[WallPost]
    special: dict[str, int]  # name -> post id: likes_0, likes_150, likes_1000, likes_5000, comments_250, reposts_1500

    @property
    def owner_id(self) -> int:
        return -self.group_id

    def post_ids(self) -> set[int]:
        return {p.id for p in self.posts}

    def interactions(self, *, reposts: bool = True) -> set[tuple[int, int, str, int]]:
        """(post id, user id, kind, comment id) of every user interaction, as the sync should store them."""
        out = set()
        for post in self.posts:
            out |= {(post.id, u, "like", 0) for u in post.likes if u > 0}
            out |= {(post.id, c.from_id, "comment", c.id) for c in post.comments if c.from_id > 0}
            if reposts:
                out |= {(post.id, r.from_id, "repost", 0) for r in post.reposts if r.from_id > 0}
        return out

    def authors(self) -> dict[int, tuple[int, int, int]]:
        """user id -> (posts, first post date, last post date), over signer_id, created_by, author, from_id > 0."""
        out: dict[int, list[int]] = {}
        for post in self.posts:
            ids = {post.signer_id, post.created_by, post.author, post.from_id if post.from_id > 0 else None}
            for user_id in ids - {None, 0}:
                out.setdefault(user_id, []).append(post.date)
        return {u: (len(d), min(d), max(d)) for u, d in out.items()}

    def pages(self, *, reposts: bool = True) -> dict[str, int]:
        """The API calls a complete fetch needs at least, per kind (what 25-call executes are measured against)."""

        def ceil(a, b):
            return -(-a // b)

        return {
            "posts": ceil(len(self.posts), POSTS_PAGE),
            "likes": sum(ceil(len(p.likes), LIKES_IDS_PAGE) for p in self.posts),
            "comments": sum(ceil(len(p.comments), COMMENTS_PAGE) for p in self.posts),
            "reposts": sum(ceil(len(p.reposts), REPOSTS_PAGE) for p in self.posts) if reposts else 0,
        }


def _sample(rng: random.Random, pool: int, k: int) -> list[int]:
    return [USER_POOL_START + i for i in rng.sample(range(pool), min(k, pool))]


def build_wall(
    wall: VkWall,
    group_id: int = 1,
    *,
    posts: int = 2500,
    seed: int = 0,
    engaged: float = 1.0,
    pool: int = 20_000,
    pinned: bool = False,
) -> WallDataset:
    """`posts` posts, newest at BASE_TIME, 2-7 hours apart; `engaged` of them have likes/comments/reposts.

    Always there, whatever `engaged` says: posts with 0, 150, 1,000 and 5,000 likes, one with 250
    comments and one with 1,500 wall reposts (plus some sent in messages). Likes of the rest run from a
    handful to the 101-1,000 range an `extended=1` scan loses. Users come from a pool of `pool` ids;
    some likes, comments and reposts come from communities (negative ids). Authors: admins in
    created_by, signers (signer_id / post_author_data.author) and users whose suggested posts were
    published (from_id > 0). pinned=True pins the oldest post (it comes first in wall.get).
    """
    rng = random.Random(seed)
    admins = [USER_POOL_START - 10 - n for n in range(4)]
    signers = [USER_POOL_START - 100 - n for n in range(6)]
    items: list[WallPost] = []
    date = BASE_TIME
    post_id = posts * 3 + 10
    for n in range(posts):
        post = WallPost(id=post_id, date=date, views=rng.randrange(50, 20_000), photo=rng.random() < 0.6)
        post.text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 40))).capitalize()
        roll = rng.random()
        if roll < 0.1:
            post.from_id = USER_POOL_START + rng.randrange(pool)  # a suggested post, published as its author
        elif roll < 0.3:
            post.signer_id = rng.choice(signers)
        elif roll < 0.4:
            post.author = rng.choice(signers + [USER_POOL_START + rng.randrange(pool)])
        if rng.random() < 0.7:
            post.created_by = rng.choice(admins)
        if rng.random() < engaged and n >= 6:
            tier = rng.random()
            likes = rng.randrange(1, 60) if tier < 0.8 else rng.randrange(101, 1001) if tier < 0.97 else 0
            post.likes = _sample(rng, pool, likes)
            if rng.random() < 0.02:
                post.likes.insert(rng.randrange(len(post.likes) + 1), -(50_000 + n))  # a community liked it
            for c in range(rng.randrange(0, 25) if rng.random() < 0.6 else 0):
                author = -group_id if rng.random() < 0.05 else USER_POOL_START + rng.randrange(pool)
                post.comments.append(Comment(id=post.id * 1000 + c, from_id=author, date=date + 60 * (c + 1)))
            if rng.random() < 0.3:
                post.reposts = [
                    Repost(id=10_000 + r, from_id=u, date=date + 120 * (r + 1))
                    for r, u in enumerate(_sample(rng, pool, rng.randrange(1, 8)))
                ]
                post.mail_reposts = rng.randrange(0, 3)
        items.append(post)
        date -= rng.randrange(2 * 3600, 7 * 3600)
        post_id -= rng.randrange(1, 4)  # deleted posts leave gaps

    # The chosen posts (the six newest, so a `since` sync reaches them too).
    special = {}
    names = ["likes_0", "likes_150", "likes_1000", "likes_5000", "comments_250", "reposts_1500"]
    for post, name in zip(items[:6], names, strict=True):
        special[name] = post.id
        post.likes, post.comments, post.reposts, post.mail_reposts = [], [], [], 0
    items[1].likes = _sample(rng, pool, 150)
    items[2].likes = _sample(rng, pool, 1000)
    items[3].likes = _sample(rng, pool, 5000)
    items[3].likes.insert(2500, -7)  # a community among them
    items[4].comments = [
        Comment(
            id=items[4].id * 1000 + c,
            from_id=-group_id if c % 40 == 39 else USER_POOL_START + rng.randrange(pool),
            date=items[4].date + 30 * (c + 1),
            text="+",
        )
        for c in range(250)
    ]
    items[4].likes = _sample(rng, pool, 30)
    items[5].reposts = [
        Repost(id=20_000 + r, from_id=u if r % 100 else -(60_000 + r), date=items[5].date + 10 * (r + 1))
        for r, u in enumerate(_sample(rng, pool, 1500))
    ]
    items[5].mail_reposts = 40
    items[5].likes = _sample(rng, pool, 70)
    if pinned and items:
        items[-1].is_pinned = True
    wall.add_posts(group_id, items)
    return WallDataset(group_id=group_id, posts=items, special=special)
