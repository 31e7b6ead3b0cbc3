"""The words the knowledge graph is built from: relations, product types, and small concept tables.

Relations follow ConceptNet (the CKBC labels, written lowerCamel here: ``usedFor``)
plus the three retail relations of the COSMO pattern (``complementOf``,
``usedWith``, ``forOccasion``). Product types are read from a description by the
first matching keyword pattern (``product_type``). The concept tables (what a
type is used for, where it is kept, what it is a kind of, which types go
together) feed the template generator's proposals and the written labelling
rules of the retail sample (``tools/kg/data/RULES.md``); the generator
over-proposes on purpose, and the filter decides.
"""

from __future__ import annotations

import re
from typing import Final

CONCEPTNET_RELATIONS: Final = (
    "atLocation", "isA", "usedFor", "capableOf", "hasPrerequisite", "hasSubevent", "hasProperty", "causes",
    "hasA", "partOf", "desires", "motivatedByGoal", "receivesAction", "madeOf", "causesDesire", "notCapableOf",
    "notDesires", "hasLastSubevent", "hasFirstSubevent", "createdBy", "notHasProperty", "definedAs", "symbolOf",
    "notMadeOf", "relatedTo", "notIsA",
)
RETAIL_RELATIONS: Final = ("complementOf", "usedWith", "forOccasion")
RELATIONS: Final = CONCEPTNET_RELATIONS + RETAIL_RELATIONS
# Relations whose two ends are both products (a lookup by item follows these).
ITEM_RELATIONS: Final = ("complementOf", "usedWith")

# How a relation reads in an explanation ("{head} {phrase} {tail}").
PHRASES: Final[dict[str, str]] = {
    "atLocation": "is found at", "isA": "is a kind of", "usedFor": "is used for", "capableOf": "can",
    "hasPrerequisite": "needs", "hasSubevent": "involves", "hasProperty": "is", "causes": "causes",
    "hasA": "has", "partOf": "is part of", "desires": "wants", "motivatedByGoal": "is done to",
    "receivesAction": "can be", "madeOf": "is made of", "causesDesire": "makes you want to",
    "notCapableOf": "cannot", "notDesires": "does not want", "hasLastSubevent": "ends with",
    "hasFirstSubevent": "starts with", "createdBy": "is created by", "notHasProperty": "is not",
    "definedAs": "is defined as", "symbolOf": "is a symbol of", "notMadeOf": "is not made of",
    "relatedTo": "is related to", "notIsA": "is not a kind of",
    "complementOf": "goes well with", "usedWith": "is used together with", "forOccasion": "is meant for",
}


def from_conceptnet(name: str) -> str:
    """``UsedFor`` -> ``usedFor``. Raises ``ValueError`` for a relation outside the vocabulary."""
    relation = name[:1].lower() + name[1:]
    if relation not in RELATIONS:
        raise ValueError(f"unknown relation {name!r}")
    return relation


def normalise(text: str) -> str:
    """The key an entity is stored and looked up by: lower case, single spaces."""
    return " ".join(text.lower().split())


# (type, pattern) in order: the first match names the product's type, so the
# specific patterns ("t-light holder") come before the general ones ("candle").
_TYPE_PATTERNS: Final[tuple[tuple[str, str], ...]] = (
    ("t-light holder", r"T-?LIGHT HOLDER|TEA ?LIGHT HOLDER|CANDLE ?HOLDER|LANTERN"),
    ("candle", r"CANDLES?\b|T-?LIGHTS\b|TEA ?LIGHTS"),
    ("cake stand", r"CAKE ?STAND"),
    ("cake cases", r"CAKE CASES|BAKING CASES"),
    ("teapot", r"TEAPOT|TEA POT"),
    ("saucer", r"SAUCER"),
    ("teacup", r"TEA ?CUP"),
    ("mug", r"\bMUGS?\b"),
    ("plate", r"\bPLATES?\b"),
    ("bowl", r"\bBOWLS?\b"),
    ("napkins", r"NAPKIN"),
    ("lunch box", r"LUNCH ?BOX"),
    ("lunch bag", r"LUNCH ?BAG"),
    ("water bottle", r"(?<!HOT )WATER BOTTLE|DRINKS? BOTTLE"),
    ("hot water bottle", r"HOT WATER BOTTLE"),
    ("shopping bag", r"JUMBO BAG|JUMBO +SHOPPER|SHOPPER|SHOPPING BAG|TOTE BAG"),
    ("gift tag", r"GIFT TAGS?|\bTAGS?\b"),
    ("wrapping paper", r"\bWRAP\b|WRAPPING PAPER"),
    ("ribbon", r"RIBBON"),
    ("greeting card", r"\bCARDS?\b"),
    ("envelope", r"ENVELOPE"),
    ("photo frame", r"PHOTO FRAME|PICTURE FRAME|\bFRAME\b"),
    ("alarm clock", r"ALARM CLOCK"),
    ("clock", r"\bCLOCK"),
    ("doormat", r"DOORMAT"),
    ("cushion cover", r"CUSHION COVER"),
    ("cushion", r"CUSHION"),
    ("garland", r"GARLAND"),
    ("bunting", r"BUNTING"),
    ("bauble", r"BAUBLE"),
    ("necklace", r"NECKLACE|NECKL\b"),
    ("bracelet", r"BRACELET"),
    ("earrings", r"EARRING"),
    ("notebook", r"NOTEBOOK|SKETCHBOOK|NOTE BOOK"),
    ("pencils", r"PENCIL|\bPENS?\b"),
    ("lampshade", r"LAMPSHADE|LAMP SHADE"),
    ("lamp", r"\bLAMP\b|NIGHT LIGHT"),
    ("coaster", r"COASTER"),
    ("apron", r"APRON"),
    ("oven glove", r"OVEN GLOVE"),
    ("tea towel", r"TEA TOWEL"),
    ("umbrella", r"UMBRELLA|PARASOL"),
    ("doorstop", r"DOORSTOP"),
    ("mirror", r"MIRROR"),
    ("storage tin", r"\bTINS?\b"),
    ("jar", r"\bJAR\b"),
    ("storage box", r"\bBOX(ES)?\b"),
    ("bag", r"\bBAGS?\b"),
    ("sign", r"\bSIGN\b|PLAQUE"),
    ("hook", r"\bHOOKS?\b|COAT RACK"),
    ("stickers", r"STICKER"),
    ("tissues", r"TISSUES"),
    ("wreath", r"WREATH"),
    ("jigsaw", r"JIGSAW"),
    ("toy", r"\bTOY\b|\bDOLL\b|TEDDY|SPINNING TOP"),
    ("tray", r"\bTRAY\b"),
    ("jug", r"\bJUG\b"),
    ("watering can", r"WATERING CAN"),
)
_COMPILED: Final = tuple((name, re.compile(pattern)) for name, pattern in _TYPE_PATTERNS)
PRODUCT_TYPES: Final = tuple(name for name, _ in _TYPE_PATTERNS)


def product_type(description: str) -> str | None:
    """The product's type from its description, or None when no pattern matches."""
    upper = description.upper()
    for name, pattern in _COMPILED:
        if pattern.search(upper):
            return name
    return None


# What each type is a kind of (its true isA tails).
SUPERTYPES: Final[dict[str, str]] = {
    "t-light holder": "candle holder", "candle": "lighting", "cake stand": "tableware", "cake cases": "bakeware",
    "teapot": "tableware", "saucer": "tableware", "teacup": "tableware", "mug": "tableware", "plate": "tableware",
    "bowl": "tableware", "napkins": "tableware", "lunch box": "container", "lunch bag": "bag",
    "water bottle": "container", "hot water bottle": "home comfort", "shopping bag": "bag",
    "gift tag": "gift wrap", "wrapping paper": "gift wrap", "ribbon": "gift wrap", "greeting card": "stationery",
    "envelope": "stationery", "photo frame": "home decoration", "alarm clock": "clock", "clock": "home decoration",
    "doormat": "home textile", "cushion cover": "home textile", "cushion": "home textile",
    "garland": "decoration", "bunting": "decoration", "bauble": "christmas decoration", "necklace": "jewellery",
    "bracelet": "jewellery", "earrings": "jewellery", "notebook": "stationery", "pencils": "stationery",
    "lampshade": "lighting", "lamp": "lighting", "coaster": "tableware", "apron": "kitchen textile",
    "oven glove": "kitchen textile", "tea towel": "kitchen textile", "umbrella": "accessory",
    "doorstop": "home decoration", "mirror": "home decoration", "storage tin": "container", "jar": "container",
    "storage box": "container", "bag": "bag", "sign": "home decoration", "hook": "home decoration",
    "stickers": "stationery", "tissues": "toiletries", "wreath": "decoration", "jigsaw": "toy", "toy": "toy",
    "tray": "tableware", "jug": "tableware", "watering can": "garden tool",
}
# What each type is used for.
USES: Final[dict[str, str]] = {
    "t-light holder": "hold a candle", "candle": "light a room", "cake stand": "serve cake",
    "cake cases": "bake cupcakes", "teapot": "make tea", "saucer": "hold a cup", "teacup": "drink tea",
    "mug": "drink coffee", "plate": "serve food", "bowl": "serve soup", "napkins": "wipe your mouth",
    "lunch box": "carry lunch", "lunch bag": "carry lunch", "water bottle": "carry water",
    "hot water bottle": "keep warm in bed", "shopping bag": "carry shopping", "gift tag": "label a present",
    "wrapping paper": "wrap a present", "ribbon": "tie a present", "greeting card": "send a greeting",
    "envelope": "post a letter", "photo frame": "display a photo", "alarm clock": "wake up",
    "clock": "tell the time", "doormat": "wipe your feet", "cushion cover": "cover a cushion",
    "cushion": "sit on", "garland": "decorate a room", "bunting": "decorate a party", "bauble": "decorate a tree",
    "necklace": "wear around the neck", "bracelet": "wear on the wrist", "earrings": "wear on the ears",
    "notebook": "write notes", "pencils": "write", "lampshade": "shade a lamp", "lamp": "light a room",
    "coaster": "protect a table", "apron": "keep clothes clean", "oven glove": "hold a hot dish",
    "tea towel": "dry dishes", "umbrella": "keep dry", "doorstop": "hold a door open",
    "mirror": "see your reflection", "storage tin": "store food", "jar": "store jam", "storage box": "store things",
    "bag": "carry things", "sign": "decorate a wall", "hook": "hang a coat", "stickers": "decorate paper",
    "tissues": "blow your nose", "wreath": "decorate a door", "jigsaw": "play", "toy": "play",
    "tray": "carry drinks", "jug": "pour milk", "watering can": "water plants",
}
# Where each type is kept.
LOCATIONS: Final[dict[str, str]] = {
    "t-light holder": "living room", "candle": "living room", "cake stand": "kitchen", "cake cases": "kitchen",
    "teapot": "kitchen", "saucer": "kitchen", "teacup": "kitchen", "mug": "kitchen", "plate": "kitchen",
    "bowl": "kitchen", "napkins": "dining room", "lunch box": "school", "lunch bag": "school",
    "water bottle": "school", "hot water bottle": "bedroom", "shopping bag": "shop", "gift tag": "gift shop",
    "wrapping paper": "gift shop", "ribbon": "gift shop", "greeting card": "post office", "envelope": "office",
    "photo frame": "living room", "alarm clock": "bedroom", "clock": "living room", "doormat": "front door",
    "cushion cover": "living room", "cushion": "living room", "garland": "living room", "bunting": "garden",
    "bauble": "christmas tree", "necklace": "jewellery box", "bracelet": "jewellery box",
    "earrings": "jewellery box", "notebook": "office", "pencils": "office", "lampshade": "living room",
    "lamp": "bedroom", "coaster": "living room", "apron": "kitchen", "oven glove": "kitchen",
    "tea towel": "kitchen", "umbrella": "hallway", "doorstop": "hallway", "mirror": "bathroom",
    "storage tin": "kitchen", "jar": "kitchen", "storage box": "bedroom", "bag": "hallway", "sign": "wall",
    "hook": "hallway", "stickers": "office", "tissues": "bathroom", "wreath": "front door", "jigsaw": "playroom",
    "toy": "playroom", "tray": "kitchen", "jug": "kitchen", "watering can": "garden",
}
ROOMS: Final = tuple(sorted(set(LOCATIONS.values())))

# Types that are used physically together (usedWith, and so also complementOf).
USED_WITH: Final[frozenset[frozenset[str]]] = frozenset(frozenset(pair) for pair in (
    ("t-light holder", "candle"), ("teacup", "saucer"), ("teapot", "teacup"), ("teapot", "mug"),
    ("cake stand", "cake cases"), ("wrapping paper", "gift tag"), ("wrapping paper", "ribbon"),
    ("gift tag", "ribbon"), ("greeting card", "envelope"), ("lunch box", "lunch bag"),
    ("lunch box", "water bottle"), ("cushion cover", "cushion"), ("mug", "coaster"), ("plate", "napkins"),
    ("lamp", "lampshade"), ("notebook", "pencils"), ("jug", "mug"), ("tray", "teacup"),
))
# Types that go well together in one purchase without being used jointly: a set, an outfit, a room.
COMPLEMENTS: Final[frozenset[frozenset[str]]] = USED_WITH | frozenset(frozenset(pair) for pair in (
    ("plate", "bowl"), ("plate", "teacup"), ("plate", "mug"), ("bowl", "mug"), ("teacup", "cake stand"),
    ("necklace", "earrings"), ("necklace", "bracelet"), ("bracelet", "earrings"), ("greeting card", "wrapping paper"),
    ("greeting card", "gift tag"), ("cake stand", "napkins"), ("cake cases", "napkins"), ("garland", "bunting"),
    ("bauble", "garland"), ("bauble", "wreath"), ("apron", "oven glove"), ("apron", "tea towel"),
    ("oven glove", "tea towel"), ("notebook", "stickers"), ("storage tin", "jar"), ("photo frame", "clock"),
))

OCCASIONS: Final[dict[str, str]] = {
    # occasion: the description words that tie a product to it
    "christmas": r"CHRISTMAS|XMAS|ADVENT|SANTA|REINDEER|NATIVITY|SNOWFLAKE|SNOWMAN|BAUBLE|JINGLE|HOLLY|FATHER CHRISTMAS",
    "easter": r"EASTER|\bCHICKS?\b|\bEGGS?\b|BUNNY",
    "birthday": r"BIRTHDAY",
    "party": r"PARTY|BUNTING|BALLOON",
    "wedding": r"WEDDING|CONFETTI",
    "valentine's day": r"VALENTINE",
    "halloween": r"HALLOWEEN|PUMPKIN",
    "picnic": r"PICNIC",
    "baby shower": r"\bBABY\b",
    "tea party": r"TEATIME|TEA PARTY|TEA ?SET|CAKE ?STAND",
}
_OCCASION_COMPILED: Final = {name: re.compile(pattern) for name, pattern in OCCASIONS.items()}


def occasions_of(description: str) -> tuple[str, ...]:
    """The occasions a description names (by the keywords above), in table order."""
    upper = description.upper()
    return tuple(name for name, pattern in _OCCASION_COMPILED.items() if pattern.search(upper))
