"""The knowledge base and every query set, drawn from a seed with the standard library only (so
the host's tests can run it without the retrieval libraries).

Products get invented names, a component, an owning team, a version and a draw of topics; each
(product, topic) pair is one document. A question names its product and paraphrases its topic,
so words find the product and meaning finds the topic. Ids and names never repeat between the
corpus, the added documents, the replacements and the load's updates.
"""

import random
from dataclasses import dataclass

from vocabulary import CODAS, COMPONENTS, ENDINGS, FILLER, ONSETS, TEAMS, TOPICS, VOWELS, Topic

TOPICS_PER_PRODUCT = 30
QUESTION_TEMPLATES = (
    "how do I {vp} on {name}?",
    "{name} {component}: how to {vp}",
    "what's the runbook to {vp} for {name}",
    "need to {vp} in {name}, where do I start?",
    "{name}: best way to {vp}?",
    "anyone know how to {vp} with {name}",
    "{vp} ({name})",
    "steps to {vp} on the {name} {component}",
)
Document = dict[str, str]


@dataclass(frozen=True)
class Product:
    name: str
    component: str
    team: str
    version: str


@dataclass(frozen=True)
class Entry:
    """One document of the corpus with what it is about."""

    product: Product
    topic: Topic
    document: Document


class Names:
    """Unique invented names: each one is new to everything drawn before it."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._taken: set[str] = set()

    def draw(self) -> str:
        while True:
            r = self._rng
            middle = r.choice(ONSETS) + r.choice(VOWELS) if r.random() < 0.5 else ""
            name = (
                r.choice(ONSETS) + r.choice(VOWELS) + r.choice(CODAS) + middle + r.choice(ENDINGS)
            ).capitalize()
            if name not in self._taken:
                self._taken.add(name)
                return name


def product(rng: random.Random, names: Names) -> Product:
    version = f"{rng.randint(1, 9)}.{rng.randint(0, 24)}"
    return Product(names.draw(), rng.choice(COMPONENTS), rng.choice(TEAMS), version)


def title_of(product: Product, topic: Topic) -> str:
    return f"{product.name} {product.component}: {topic.title}"


def document(rng: random.Random, doc_id: str, product: Product, topic: Topic) -> Document:
    """A runbook page: the topic's wording, the product's particulars and some filler, so pages
    on one topic differ by product and pages of one product differ by topic."""
    particulars = [
        f"This page is about the {product.name} {product.component}.",
        *topic.sentences,
        f"It applies to version {product.version} and later; the {product.team} team owns it.",
        f"The setting to look at is {topic.setting} in {product.component.replace(' ', '_')}.toml.",
    ]
    filler = rng.sample(FILLER, rng.randint(1, 3))
    sentences = particulars[:1] + rng.sample(particulars[1:], len(particulars) - 1)
    at = rng.randint(1, len(sentences))
    text = " ".join(sentences[:at] + filler + sentences[at:])
    return {"id": doc_id, "title": title_of(product, topic), "text": text}


def question(rng: random.Random, entry: "Entry", avoid: set[str]) -> str | None:
    """An engineer's question about ``entry``: a template, one of its topic's paraphrases and its
    product's name; never one in ``avoid`` (which it joins). None when every wording is taken."""
    item = entry.product
    wordings = [
        template.format(vp=vp, name=item.name, component=item.component)
        for template in QUESTION_TEMPLATES
        for vp in entry.topic.paraphrases
    ]
    fresh = [text for text in wordings if text not in avoid]
    if not fresh:
        return None
    text = rng.choice(fresh)
    avoid.add(text)
    return text


def corpus(rng: random.Random, names: Names, products: int) -> list[Entry]:
    """``products`` products of TOPICS_PER_PRODUCT documents each, in a shuffled order with ids
    d00001, d00002, ... (so an id says nothing of its product)."""
    pairs = []
    for _ in range(products):
        item = product(rng, names)
        pairs += [(item, topic) for topic in rng.sample(TOPICS, TOPICS_PER_PRODUCT)]
    rng.shuffle(pairs)
    return [
        Entry(item, topic, document(rng, f"d{number:05d}", item, topic))
        for number, (item, topic) in enumerate(pairs, start=1)
    ]


def new_entries(rng: random.Random, names: Names, prefix: str, count: int) -> list[Entry]:
    """``count`` documents of brand-new products, ids ``prefix`` + 00001, ..."""
    entries = []
    for number in range(1, count + 1):
        item, topic = product(rng, names), rng.choice(TOPICS)
        entries.append(Entry(item, topic, document(rng, f"{prefix}{number:05d}", item, topic)))
    return entries


def reworded_title(entry: Entry) -> str:
    """The title lightly reworded: what someone who read the page would search for."""
    return f"{entry.topic.title.lower()} for {entry.product.name} {entry.product.component}"
