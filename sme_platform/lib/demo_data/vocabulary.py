"""Small word lists the synthetic names, places and products are built from (no Faker)."""

from __future__ import annotations

FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Ella", "Finn", "Grace", "Henry", "Ida", "Jonas",
    "Karin", "Lars", "Maja", "Noah", "Olivia", "Paul", "Rosa", "Samuel", "Tara", "Viktor",
    "Wendy", "Xavier", "Yasmin", "Zoe", "Amir", "Bianca", "Carlos", "Daria", "Emil", "Freya",
    "Gabriel", "Hanna", "Isaac", "Julia", "Kofi", "Lena", "Marco", "Nora", "Oscar", "Priya",
)  # fmt: skip

LAST_NAMES = (
    "Andersen", "Baker", "Carter", "Dahl", "Evans", "Fischer", "Garcia", "Hansen", "Ibsen",
    "Jensen", "Keller", "Larsen", "Moreau", "Nielsen", "Olsen", "Petersen", "Quinn", "Russo",
    "Schmidt", "Turner", "Urban", "Vogel", "Walker", "Young", "Zimmer", "Berg", "Costa",
    "Dubois", "Eriksen", "Foster", "Gray", "Holm", "Iversen", "Jansen", "Kowalski", "Lund",
    "Meyer", "Novak", "Ortiz", "Patel",
)  # fmt: skip

BUSINESS_WORDS = (
    "Interiors", "Home Store", "Living", "Design Studio", "Hotels", "Furnishings", "Concepts",
    "Decor", "Trading", "Retail Group",
)  # fmt: skip

CITIES = (
    "Ashford", "Brookfield", "Carlton", "Dunmore", "Elmstead", "Fairhaven", "Glenwood",
    "Harrowgate", "Ivybridge", "Kingsport", "Lakeside", "Millbrook", "Northgate", "Oakridge",
    "Pinecrest", "Queensbury", "Riverton", "Stonebridge", "Thornbury", "Upton", "Westfield",
    "Yarmouth", "Bayview", "Cedarford",
)  # fmt: skip

CITY_DISTRICTS = ("", " Centre", " Park", " North", " South", " Retail Park", " Old Town")

REGIONS = ("North", "South", "East", "West", "Central")

# Reserved example domains, so no generated address can reach a real mailbox.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")

COLLECTIONS = (
    "Aalborg", "Bergen", "Calla", "Delta", "Elm", "Fjord", "Granite", "Haven", "Iris",
    "Juniper", "Kaia", "Linnea", "Moss", "Nova", "Oslo", "Pebble", "Quill", "Rowan", "Sage",
    "Tove", "Umber", "Vale", "Willow", "Yara", "Zinnia", "Aspen", "Birch", "Cove",
)  # fmt: skip

COLOURS = (
    "White", "Sand", "Slate", "Sage Green", "Charcoal", "Terracotta", "Natural", "Navy",
    "Ochre", "Dusty Pink", "Oak", "Black",
)  # fmt: skip
