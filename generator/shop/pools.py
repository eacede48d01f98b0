"""The shared world every collection draws from: users, products, catalogue words, the clock.

One pool of users and one of products, so references agree across collections (a ticket's user
has sessions; a reviewed or recommended product has a price history).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate

from faker import Faker

CATEGORIES = ("shoes", "jackets", "phones", "laptops", "books", "toys", "kitchen", "garden")
CURRENCIES = ("USD", "EUR", "RUB")
DEVICES = {
    "desktop": (("Windows", "Chrome"), ("macOS", "Safari"), ("Linux", "Firefox")),
    "mobile": (("Android", "Chrome"), ("iOS", "Safari")),
    "tablet": (("iPadOS", "Safari"), ("Android", "Chrome")),
}
SEARCH_TERMS = 300
VOCABULARY = {
    "shoes": (("running shoes", "sneakers", "boots", "sandals", "loafers", "slippers"),
              ("men's", "women's", "kids", "leather", "waterproof", "white", "black")),
    "jackets": (("jacket", "parka", "raincoat", "puffer jacket", "fleece", "blazer"),
                ("men's", "women's", "winter", "denim", "leather", "lightweight", "hooded")),
    "phones": (("iphone 15", "galaxy s24", "pixel 8", "phone case", "charger", "screen protector"),
               ("", "refurbished", "128gb", "256gb", "unlocked", "cheap", "wireless")),
    "laptops": (("laptop", "macbook air", "thinkpad", "gaming laptop", "chromebook", "laptop bag"),
                ("", "14 inch", "16gb ram", "refurbished", "student", "lightweight", "used")),
    "books": (("novel", "cookbook", "fantasy books", "biography", "children's books", "comics"),
              ("", "bestseller", "paperback", "new", "classic", "illustrated", "used")),
    "toys": (("lego", "puzzle", "board game", "rc car", "doll", "plush toy"),
             ("", "kids", "wooden", "educational", "3 year old", "outdoor", "star wars")),
    "kitchen": (("coffee maker", "air fryer", "blender", "knife set", "frying pan", "kettle"),
                ("", "electric", "stainless steel", "non-stick", "cheap", "small", "ceramic")),
    "garden": (("garden hose", "lawn mower", "plant pots", "bbq grill", "garden chairs", "seeds"),
               ("", "cordless", "large", "outdoor", "electric", "ceramic", "tomato")),
}  # fmt: skip
"""What shoppers type, per category: (products, words they put before them). Search terms are
combinations of the two, ranked by Zipf's law (World.search_term)."""
REFERENCE_NOW = datetime(2026, 11, 1, 12, 0, 0)
"""`--once` histories end here, so the same seed gives the same documents on any day."""


@cache
def _zipf_weights(n: int) -> list[float]:
    """Cumulative weights 1, 1 + 1/2, 1 + 1/2 + 1/3, ...: Zipf's law with exponent 1."""
    return list(accumulate(1 / k for k in range(1, n + 1)))


def ms(value: datetime) -> datetime:
    """Truncate to milliseconds, as BSON stores datetimes (so round trips compare equal)."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


@dataclass
class World:
    rng: random.Random
    fake: Faker
    users: list[str]
    products: list[str]
    product_category: dict[str, str]
    now: datetime
    history_days: int = 60
    search_terms: list[str] = field(default_factory=list)
    """Popular queries, most popular first: searches follow Zipf's law, as on real sites."""

    @classmethod
    def create(cls, scale: int, seed: int, now: datetime = REFERENCE_NOW) -> World:
        rng = random.Random(seed)
        fake = Faker()
        fake.seed_instance(seed)
        users = [f"U{i:06d}" for i in range(max(10, scale // 5))]
        products = [f"P{i:05d}" for i in range(max(10, scale // 10))]
        category = {p: rng.choice(CATEGORIES) for p in products}
        terms = sorted(
            f"{modifier} {noun}".strip()
            for nouns, modifiers in VOCABULARY.values()
            for noun in nouns
            for modifier in modifiers
        )
        rng.shuffle(terms)  # a seed's popularity ranking: the first term is the most searched
        terms = terms[:SEARCH_TERMS]
        return cls(rng, fake, users, products, category, now, search_terms=terms)

    def search_term(self) -> str:
        """A query text: the k-th most popular term is searched about 1/k as often as the
        first (a flat draw would make every term as common as every other)."""
        weights = _zipf_weights(len(self.search_terms))
        return self.rng.choices(self.search_terms, cum_weights=weights)[0]

    def moment(self, days_back: float | None = None) -> datetime:
        """A random time in the history window (or within `days_back` days of now)."""
        span = (days_back if days_back is not None else self.history_days) * 86400
        return ms(self.now - timedelta(seconds=self.rng.uniform(0, span)))

    def user(self) -> str:
        return self.rng.choice(self.users)

    def product(self) -> str:
        return self.rng.choice(self.products)
