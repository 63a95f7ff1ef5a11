"""Write the bundled ``intents`` dataset: customer messages labelled with what the customer wants.

    python assets/datasets/make_intents.py        # rewrites intents/train.jsonl and heldout.jsonl

Each row is ``{"text": message, "label": intent}`` with one of six intents (``LABELS``):
``track_order`` (where is my parcel), ``cancel_order`` (stop it before it ships), ``refund``
(money back for something returned or faulty), ``change_address`` (deliver somewhere else),
``payment_issue`` (a charge or a card that went wrong) and ``account_access`` (cannot log in).
The pairs a reader could mix up are there on purpose: cancel/refund both undo a purchase,
track/change_address both talk about delivery, refund/payment_issue both talk about money.

A message is a sentence pattern of its intent, filled from slots (items, order numbers,
days, streets, cities, payment methods), wrapped in an optional greeting and sign-off, then
given a surface style: as written, all lowercase, no final punctuation, SHOUTED, or one
typo (two letters swapped, or one dropped) in a longer word. One seeded ``random.Random``
drives everything, so the files are reproducible.

The split is fixed and balanced: ``N_TRAIN`` training and ``N_HELDOUT`` held-out messages
per intent. No text occurs twice anywhere (compared case-insensitively, so a message and its
lowercase twin cannot sit on both sides). About a quarter of each intent's held-out
messages use sentence patterns that training never shows (``HELDOUT_PATTERNS``): the
classifier has to recognise the intent in new words, not the template.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20261124
N_TRAIN, N_HELDOUT, N_HELDOUT_NEW = (
    110,
    30,
    8,
)  # per intent; N_HELDOUT_NEW of held-out are new patterns
OUT = Path(__file__).resolve().parent / "intents"

LABELS = (
    "track_order",
    "cancel_order",
    "refund",
    "change_address",
    "payment_issue",
    "account_access",
)

# fmt: off
SLOTS = {
    "item": ["headphones", "blue jacket", "coffee maker",
             "running shoes", "phone case", "desk lamp", "backpack", "book", "blender",
             "keyboard", "winter coat", "sofa cushions", "printer", "water bottle", "tent",
             "smart watch", "kettle", "yoga mat", "gift box", "monitor", "toaster"],
    "order_no": ["#48213", "#10077", "#55902", "#31846", "#77120", "#20659", "#93311",
                 "#64008", "A-2291", "A-7734", "B-1058", "B-9403", "12-4471", "ORD-5530",
                 "ORD-8812", "#66245"],
    "day": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "weeks": ["a week", "two weeks", "ten days", "three weeks", "a month", "five days"],
    "street": ["12 Oak Street", "48 Harbour Road", "7 Mill Lane", "230 King Avenue",
               "19 Rose Court", "5 Station Road", "88 Park Place", "301 Elm Drive",
               "14 Bridge Street", "62 Hill View"],
    "city": ["Leeds", "Lyon", "Denver", "Porto", "Osaka", "Dublin", "Austin", "Graz",
             "Cork", "Turin", "Perth", "Bergen"],
    "card": ["credit card", "debit card", "Visa card", "Mastercard", "PayPal account",
             "bank card", "gift card", "Apple Pay"],
    "amount": ["$19.99", "$45", "$120", "€30", "€64.50", "£12", "£89", "$7.50", "$250"],
    "login": ["account", "profile", "login", "customer account", "online account"],
}
OPENERS = ["", "", "", "", "Hi, ", "Hello, ", "Hey, ", "Good morning, ", "Hi there, ",
           "Excuse me, ", "Urgent: ", "Quick question: "]
CLOSERS = ["", "", "", "", " Thanks.", " Thank you!", " Thanks in advance.",
           " Please help.", " Cheers.", " Any update would be great.", " Regards, Sam.",
           " This is really frustrating."]

TRAIN_PATTERNS = {
    "track_order": [
        "Where is my {item}?",
        "Where is my package? It was due on {day}.",
        "Where is order {order_no}?",
        "My {item} hasn't arrived yet.",
        "Can you tell me when my {item} will be delivered?",
        "I ordered the {item} {weeks} ago and it still isn't here.",
        "What's the status of order {order_no}?",
        "Has my {item} been shipped yet?",
        "The tracking for {order_no} hasn't updated since {day}.",
        "When will order {order_no} arrive?",
        "Is my {item} on its way?",
        "I'm still waiting for my {item}, any news?",
        "Could you check where my parcel is? The order number is {order_no}.",
        "The delivery date for my {item} has passed and nothing came.",
        "Can I get a tracking number for my {item}?",
        "How long until my {item} gets here?",
    ],
    "cancel_order": [
        "Please cancel my order {order_no}.",
        "I want to cancel the {item} I ordered.",
        "Cancel order {order_no}, please.",
        "I changed my mind, please cancel the {item}.",
        "Can I still cancel order {order_no} before it ships?",
        "I ordered the {item} by mistake, please cancel it.",
        "Stop my order {order_no}, I don't need it anymore.",
        "How do I cancel an order I placed on {day}?",
        "Please don't ship the {item}, I want to cancel.",
        "I'd like to cancel my purchase of the {item}.",
        "Is it too late to cancel order {order_no}?",
        "Cancel the {item} order I placed on {day}.",
        "I found the {item} cheaper elsewhere, please cancel my order.",
        "Can you call off order {order_no}? I no longer want it.",
        "I placed a duplicate order for the {item}, please cancel one.",
    ],
    "refund": [
        "I returned the {item} {weeks} ago and still have no refund.",
        "I want my money back for the {item}.",
        "When will I get my refund for order {order_no}?",
        "The {item} arrived broken, I want a refund.",
        "Please refund the {amount} for the {item}.",
        "I sent the {item} back on {day}, where is my refund?",
        "Can I get a refund for order {order_no}?",
        "The {item} doesn't work, I'd like a full refund.",
        "How long does a refund take? I returned order {order_no}.",
        "You said I would be refunded {amount} but nothing came back.",
        "The {item} was not as described, please give me a refund.",
        "I'd like to return the {item} and get my money back.",
        "My refund for the {item} still hasn't shown up.",
        "I was promised a refund for order {order_no} {weeks} ago.",
        "The wrong {item} was delivered, I want to be reimbursed.",
    ],
    "change_address": [
        "I need to change the delivery address for order {order_no}.",
        "Can you send my {item} to {street} instead?",
        "I moved to {city}, please update my shipping address.",
        "Please deliver order {order_no} to {street}, {city} instead.",
        "I typed the wrong address for my {item}.",
        "How do I change my shipping address?",
        "Can the {item} go to my work address instead of home?",
        "Please update the address on order {order_no} to {street}.",
        "My address has changed, it is now {street}, {city}.",
        "I won't be home, can you ship the {item} to {city} instead?",
        "The address on my order is wrong, it should be {street}.",
        "Can I change where order {order_no} is delivered?",
        "Please redirect my {item} to {street}.",
        "I'm moving on {day}, please send the {item} to my new address.",
        "Wrong postcode on order {order_no}, the right address is {street}, {city}.",
    ],
    "payment_issue": [
        "My {card} was charged twice for order {order_no}.",
        "The payment keeps failing at checkout.",
        "I was charged {amount} but my order didn't go through.",
        "Why was my {card} declined?",
        "There is a charge of {amount} on my {card} that I don't recognise.",
        "I can't pay with my {card}.",
        "You took {amount} from my account twice.",
        "The checkout says payment error every time I try to buy the {item}.",
        "My {card} was billed {amount} instead of the sale price.",
        "I got charged for the {item} but never ordered it.",
        "How do I update the {card} on my account?",
        "My payment for order {order_no} is stuck on pending.",
        "Your site won't accept my {card}.",
        "I paid {amount} with my {card} and the order shows unpaid.",
        "There's an extra fee of {amount} on my bill.",
    ],
    "account_access": [
        "I can't log in to my {login}.",
        "I forgot my password.",
        "My {login} is locked.",
        "The password reset email never arrives.",
        "I can't sign in since {day}.",
        "How do I reset my password?",
        "It says my password is wrong but I know it's right.",
        "I'm locked out of my {login} after too many attempts.",
        "I never get the verification code to log in.",
        "My {login} was hacked, I can't get in.",
        "I changed my email and now I can't access my {login}.",
        "The login page keeps sending me back to the start.",
        "Can you unlock my {login}?",
        "I don't remember the email I used for my {login}.",
        "Two-factor code is not working, I can't get into my {login}.",
    ],
}
HELDOUT_PATTERNS = {
    "track_order": [
        "Any idea when the courier will drop off my {item}?",
        "It's been {weeks} and my {item} is nowhere to be seen.",
        "Could you look up the shipping progress of {order_no}?",
    ],
    "cancel_order": [
        "Scrap my order {order_no} please, I've decided against it.",
        "Kindly withdraw my order for the {item} before dispatch.",
        "I no longer wish to go ahead with the {item}, cancel it.",
    ],
    "refund": [
        "Kindly put the {amount} back on my card, I sent the {item} back.",
        "The {item} fell apart after a day, I expect my money returned.",
        "Reimburse me for order {order_no}, the goods went back {weeks} ago.",
    ],
    "change_address": [
        "Please ship order {order_no} to a different place: {street}, {city}.",
        "My {item} should go to my sister's at {street} now.",
        "Swap the destination of my {item} to {city}, please.",
    ],
    "payment_issue": [
        "My bank shows two identical payments of {amount} to your shop.",
        "The {card} got rejected although it has plenty of funds.",
        "A mysterious {amount} was taken from my {card} yesterday.",
    ],
    "account_access": [
        "Your website won't let me into my {login} anymore.",
        "I keep getting 'invalid credentials' when signing in.",
        "Help me recover access to my {login}, the reset link is broken.",
    ],
}
# fmt: on
STYLES = ["plain", "plain", "plain", "plain", "lower", "lower", "nopunct", "typo", "typo", "upper"]


def _typo(rng: random.Random, text: str) -> str:
    """One typo in a word of 5+ letters: two neighbouring letters swapped, or one dropped."""
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
    if not long_words:
        return text
    i = rng.choice(long_words)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :] if rng.random() < 0.5 else w[:j] + w[j + 1 :]
    return " ".join(words)


def _style(rng: random.Random, text: str) -> str:
    style = rng.choice(STYLES)
    if style == "lower":
        return text.lower()
    if style == "nopunct":
        return text.rstrip(".!?")
    if style == "upper":
        return text.upper()
    if style == "typo":
        return _typo(rng, text)
    return text


def make_message(rng: random.Random, pattern: str) -> str:
    """One customer message from a sentence pattern: slots filled, wrapped, styled."""
    text = pattern.format(**{k: rng.choice(v) for k, v in SLOTS.items()})
    opener, closer = rng.choice(OPENERS), rng.choice(CLOSERS)
    if opener and text.split(" ")[0].split("'")[0] != "I":
        text = text[0].lower() + text[1:]  # "Hi, where is my parcel?"
    return _style(rng, f"{opener}{text}{closer}")


def build(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    """(train, heldout) rows ``{"text", "label"}``, reproducibly, each split shuffled."""
    rng = random.Random(seed)
    seen: set[str] = set()  # casefolded texts already used, in either split

    def draw(label: str, count: int, patterns: list[str]) -> list[dict]:
        rows = []
        while len(rows) < count:
            text = make_message(rng, rng.choice(patterns))
            if text.casefold() not in seen:
                seen.add(text.casefold())
                rows.append({"text": text, "label": label})
        return rows

    train, heldout = [], []
    for label in LABELS:
        train += draw(label, N_TRAIN, TRAIN_PATTERNS[label])
        heldout += draw(label, N_HELDOUT - N_HELDOUT_NEW, TRAIN_PATTERNS[label])
        heldout += draw(label, N_HELDOUT_NEW, HELDOUT_PATTERNS[label])
    rng.shuffle(train)
    rng.shuffle(heldout)
    return train, heldout


def write(folder: Path = OUT, seed: int = SEED) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in zip(("train", "heldout"), build(seed), strict=True):
        with open(folder / f"{name}.jsonl", "w", encoding="utf-8", newline="\n") as f:
            f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


if __name__ == "__main__":
    write()
    print(
        f"Wrote {N_TRAIN * len(LABELS)} training and {N_HELDOUT * len(LABELS)} held-out "
        f"messages ({len(LABELS)} intents) to {OUT}"
    )
