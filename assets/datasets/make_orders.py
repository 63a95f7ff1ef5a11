"""Write the bundled ``orders`` dataset: free-text requests -> one JSON object each.

    python assets/datasets/make_orders.py          # rewrites orders/train.jsonl and heldout.jsonl

A request such as "Please send 3 red mugs to our Lima office." has the response
``{"item": "mug", "quantity": 3, "color": "red", "destination": "Lima"}`` (``json.dumps``
of the keys item, quantity, color, destination in that order): item singular and lowercase,
quantity a positive int (written in the request as digits or as a word), color lowercase or
null when the request names none, destination the city exactly as written (Title Case).

Every request names exactly one item, one number, at most one color and one city, so it has
one right answer. The output is reproducible: one seeded ``random.Random`` drives everything.
The held-out split shares no prompt with training; its items, colors and number words all
occur in training, a few of its cities do not (the model must copy them), and about a third
of it uses sentence patterns that training never shows.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261123
N_TRAIN, N_HELDOUT = 480, 60
OUT = Path(__file__).resolve().parent / "orders"

# fmt: off
# (singular, plural); the response uses the singular.
ITEMS = [
    ("mug", "mugs"), ("notebook", "notebooks"), ("pen", "pens"), ("pencil", "pencils"),
    ("chair", "chairs"), ("desk lamp", "desk lamps"), ("backpack", "backpacks"),
    ("umbrella", "umbrellas"), ("t-shirt", "t-shirts"), ("hoodie", "hoodies"), ("cap", "caps"),
    ("water bottle", "water bottles"), ("keyboard", "keyboards"), ("mouse", "mice"),
    ("monitor", "monitors"), ("headset", "headsets"), ("stapler", "staplers"),
    ("folder", "folders"), ("envelope", "envelopes"), ("box", "boxes"), ("tote bag", "tote bags"),
    ("scarf", "scarves"), ("candle", "candles"), ("towel", "towels"), ("blanket", "blankets"),
    ("cushion", "cushions"), ("clock", "clocks"), ("marker", "markers"),
    ("calculator", "calculators"), ("phone case", "phone cases"), ("charger", "chargers"),
    ("battery", "batteries"), ("jacket", "jackets"), ("apron", "aprons"), ("lunch box", "lunch boxes"),
    ("sticker", "stickers"),
]
COLORS = ["red", "blue", "green", "black", "white", "yellow", "orange", "purple", "pink",
          "gray", "brown", "navy", "silver", "teal"]
CITIES = [
    "Lima", "Oslo", "Madrid", "Nairobi", "Toronto", "Osaka", "Berlin", "Lisbon", "Cairo",
    "Denver", "Austin", "Dublin", "Seoul", "Quito", "Perth", "Boston", "Chicago", "Paris",
    "Rome", "Vienna", "Prague", "Warsaw", "Athens", "Manila", "Jakarta", "Santiago",
    "Montreal", "Vancouver", "Sydney", "Mumbai", "Lagos", "Accra", "Helsinki", "Stockholm",
    "Zurich", "Geneva", "Hamburg", "Munich", "Milan", "Seville", "Porto", "Budapest",
    "Istanbul", "Dubai", "Tokyo", "Hanoi", "Bangkok", "Singapore", "Auckland", "Cape Town",
    "San Diego", "New York", "Los Angeles", "Buenos Aires", "Mexico City", "Hong Kong",
    "Kuala Lumpur", "Tel Aviv",
]
HELDOUT_ONLY_CITIES = ["Valencia", "Edinburgh", "Calgary"]
WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen", "twenty"]
# fmt: on
WORD_OF = {i + 1: w for i, w in enumerate(WORDS)} | {30: "thirty", 40: "forty", 50: "fifty"}
BIG = [24, 25, 30, 36, 40, 48, 50, 60, 75, 80, 100, 120, 150, 200, 250, 500]

# Sentence patterns: {ip} is the item phrase from item_phrase ("3 red mugs", "a mug (red)"),
# {ip_cap} the same capitalized, {city} the bare city, and {dest}, {for_dest}, {For_dest},
# {at_dest} a destination phrase naming the city.
DEST = [
    "to our {city} office",
    "to {city}",
    "to the {city} office",
    "to the {city} store",
    "to our team in {city}",
    "to the warehouse in {city}",
    "to our {city} branch",
    "to the office in {city}",
]
FOR_DEST = [
    "for our {city} office",
    "for the {city} team",
    "for the team in {city}",
    "for our office in {city}",
    "for {city}",
]
AT_DEST = ["at our {city} office", "at the {city} store", "in {city}"]
TRAIN_PATTERNS = [
    "Send {ip} {dest}.",
    "Please send {ip} {dest}.",
    "Ship {ip} {dest}.",
    "Could you ship {ip} {dest}?",
    "Can you send {ip} {dest}?",
    "Please deliver {ip} {dest}.",
    "Dispatch {ip} {dest}.",
    "I'd like to order {ip} {for_dest}.",
    "We need {ip} {at_dest}.",
    "Order {ip} {for_dest}.",
    "Please order {ip} {for_dest}.",
    "Our {city} team needs {ip}.",
    "{For_dest}: {ip}, please.",
    "{For_dest}, please order {ip}.",
    "Ship to {city}: {ip}.",
    "Deliver to {city}: {ip}.",
    "Put in an order for {ip} {for_dest}.",
    "Mail {ip} {dest}.",
    "Get {ip} sent {dest}.",
    "Could we get {ip} delivered {dest}?",
    "I need {ip} shipped {dest}.",
    "Requesting {ip} {for_dest}.",
    "Please arrange delivery of {ip} {dest}.",
    "{ip_cap} {dest}, please.",
    "{ip_cap} for {city}.",
]
HELDOUT_PATTERNS = [
    "Would you mind sending {ip} {dest}?",
    "The {city} office is asking for {ip}.",
    "Kindly forward {ip} {dest}.",
    "Destination {city}. Contents: {ip}.",
]
OPENERS = ["", "", "", "", "Hi, ", "Hello! ", "Hey team, ", "Good morning. ", "Quick request: "]
CLOSERS = [
    "",
    "",
    "",
    "",
    " Thanks!",
    " Thank you.",
    " Cheers.",
    " Thanks in advance.",
    " Much appreciated.",
]


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def item_phrase(
    rng: random.Random, item: tuple[str, str], n: int, color: str | None, number_style: str
) -> str:
    """The quantity, color and item in one of several equivalent forms, e.g. '3 red mugs'."""
    singular, plural = item
    noun = singular if n == 1 else plural
    if n == 1:
        count = {"digit": "1", "word": "one"}.get(number_style) or "A"
    elif number_style == "word":
        count = WORD_OF[n]
    elif number_style == "dozen":
        count = "a dozen"
    else:
        count = str(n)
    place = rng.choice(["before", "before", "before", "in", "comma"]) if color else "none"
    if place == "before":
        phrase = f"{count} {color} {noun}"
    elif place == "in":
        phrase = f"{count} {noun} in {color}"
    elif place == "comma":
        phrase = f"{count} {noun} ({color})"
    else:
        phrase = f"{count} {noun}"
    if count == "A":  # "a mug", "an orange mug"
        phrase = f"{_article(phrase.split(' ', 1)[1])} {phrase.split(' ', 1)[1]}"
    return phrase


def make_request(rng: random.Random, patterns: list[str], cities: list[str]) -> dict:
    """One request and its answer: {"prompt": text, "response": json.dumps(order)}."""
    item = rng.choice(ITEMS)
    color = rng.choice(COLORS) if rng.random() < 0.65 else None
    city = rng.choice(cities)
    style = rng.choices(["digit", "word", "one", "dozen", "big"], weights=[40, 30, 10, 3, 12])[0]
    if style == "digit":
        n = rng.randint(2, 60)
    elif style == "word":
        n = rng.randint(2, 20)
    elif style == "one":
        n, style = 1, rng.choice(["article", "article", "word", "digit"])
    elif style == "dozen":
        n = 12
    else:
        n = rng.choice(BIG)
        style = "word" if n in WORD_OF and rng.random() < 0.5 else "digit"
    ip = item_phrase(rng, item, n, color, style)
    pattern = rng.choice(patterns)
    text = pattern.format(
        ip=ip,
        ip_cap=ip[0].upper() + ip[1:],
        city=city,
        dest=rng.choice(DEST).format(city=city),
        for_dest=rng.choice(FOR_DEST).format(city=city),
        For_dest=(lambda s: s[0].upper() + s[1:])(rng.choice(FOR_DEST).format(city=city)),
        at_dest=rng.choice(AT_DEST).format(city=city),
    )
    opener, closer = rng.choice(OPENERS), rng.choice(CLOSERS)
    if opener.endswith(", ") and text.split()[0] not in ("I", "I'd"):
        text = text[0].lower() + text[1:]  # "Hi, please send ..."
    order = {"item": item[0], "quantity": n, "color": color, "destination": city}
    return {"prompt": f"{opener}{text}{closer}", "response": json.dumps(order)}


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout) rows, reproducibly; no prompt appears twice anywhere."""
    rng = random.Random(seed)
    seen: set[str] = set()

    def draw(count, patterns, cities):
        rows = []
        while len(rows) < count:
            row = make_request(rng, patterns, cities)
            if row["prompt"] not in seen:
                seen.add(row["prompt"])
                rows.append(row)
        return rows

    train = draw(N_TRAIN, TRAIN_PATTERNS, CITIES)
    heldout = (
        draw(36, TRAIN_PATTERNS, CITIES)
        + draw(20, HELDOUT_PATTERNS, CITIES)
        + draw(4, TRAIN_PATTERNS + HELDOUT_PATTERNS, HELDOUT_ONLY_CITIES)
    )
    rng.shuffle(heldout)
    return train, heldout


def write(folder: Path = OUT, seed: int = SEED) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in zip(("train", "heldout"), build(seed), strict=True):
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    write()
    print(f"Wrote {N_TRAIN} training and {N_HELDOUT} held-out orders to {OUT}")
