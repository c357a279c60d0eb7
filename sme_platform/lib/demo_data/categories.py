"""The product categories of a home-goods company and how their demand behaves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

CHRISTMAS_PEAK_DAY_OF_YEAR = 350  # mid-December: gift shopping peaks before the holidays
CHRISTMAS_PEAK_WIDTH_DAYS = 10.0


@dataclass(frozen=True)
class Category:
    """A product category.

    `elasticity` is the constant price elasticity of demand: demand scales with
    (price paid / list price) ** -elasticity, so a 20 % promotion with elasticity 2 sells
    0.8 ** -2 = 1.56 times the units. The yearly seasonality is a cosine with
    `season_amplitude` peaking on day-of-year `season_peak_day` plus a Gaussian Christmas
    bump of height `christmas_boost`, scaled to a yearly mean of about 1.
    """

    name: str
    sku_share: float
    median_price: float
    units_per_line: float
    elasticity: float
    season_amplitude: float
    season_peak_day: int
    christmas_boost: float
    subcategories: dict[str, tuple[str, ...]]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "Kitchen & Dining", 0.20, 24.0, 1.3, 1.8, 0.05, 300, 0.6,
        {
            "Cookware": ("Frying Pan", "Saucepan", "Casserole Dish", "Stock Pot"),
            "Tableware": ("Dinner Plate Set", "Serving Bowl", "Mug", "Side Plate"),
            "Cutlery": ("Cutlery Set", "Steak Knives", "Serving Spoons"),
            "Glassware": ("Wine Glasses", "Tumbler Set", "Carafe"),
            "Kitchen Tools": ("Chopping Board", "Utensil Set", "Kitchen Scale"),
        },
    ),
    Category(
        "Bedding & Bath", 0.13, 35.0, 1.2, 1.6, 0.15, 20, 0.3,
        {
            "Bed Linen": ("Duvet Cover", "Fitted Sheet", "Pillowcase Pair"),
            "Pillows & Duvets": ("Pillow", "Duvet", "Mattress Topper"),
            "Towels": ("Bath Towel", "Hand Towel", "Bath Sheet"),
            "Bath Accessories": ("Bath Mat", "Soap Dispenser", "Shower Curtain"),
        },
    ),
    Category(
        "Furniture", 0.08, 240.0, 1.0, 1.2, 0.10, 270, 0.1,
        {
            "Living Room": ("Sofa", "Armchair", "Coffee Table", "TV Bench"),
            "Bedroom": ("Bed Frame", "Wardrobe", "Bedside Table"),
            "Dining": ("Dining Table", "Dining Chair", "Bar Stool"),
            "Home Office": ("Desk", "Office Chair", "Bookcase"),
        },
    ),
    Category(
        "Lighting", 0.10, 45.0, 1.2, 1.5, 0.30, 350, 0.4,
        {
            "Ceiling Lights": ("Pendant Lamp", "Ceiling Spotlight"),
            "Table Lamps": ("Table Lamp", "Desk Lamp"),
            "Floor Lamps": ("Floor Lamp", "Reading Lamp"),
            "Bulbs": ("LED Bulb Pack", "Filament Bulb"),
        },
    ),
    Category(
        "Home Decor", 0.17, 19.0, 1.4, 2.3, 0.05, 100, 1.2,
        {
            "Candles": ("Scented Candle", "Pillar Candle", "Tealight Pack"),
            "Frames & Mirrors": ("Photo Frame", "Wall Mirror", "Gallery Frame Set"),
            "Vases": ("Vase", "Bud Vase", "Floor Vase"),
            "Seasonal Decor": ("Advent Wreath", "Star Lantern", "Bauble Set"),
        },
    ),
    Category(
        "Garden & Outdoor", 0.10, 55.0, 1.3, 1.7, 0.70, 145, 0.0,
        {
            "Garden Furniture": ("Garden Chair", "Lounger", "Patio Table"),
            "Planters": ("Planter", "Plant Pot Set", "Raised Bed"),
            "Outdoor Lighting": ("Solar Lantern", "String Lights"),
            "Barbecue": ("Charcoal Grill", "BBQ Tool Set"),
        },
    ),
    Category(
        "Storage & Organisation", 0.10, 22.0, 1.5, 1.4, 0.20, 15, 0.1,
        {
            "Boxes & Baskets": ("Storage Box", "Woven Basket", "Drawer Organiser"),
            "Shelving": ("Wall Shelf", "Shelving Unit"),
            "Wardrobe Storage": ("Hanger Set", "Shoe Rack", "Garment Bag"),
        },
    ),
    Category(
        "Rugs & Textiles", 0.12, 42.0, 1.2, 1.9, 0.25, 310, 0.5,
        {
            "Rugs": ("Rug", "Runner", "Doormat"),
            "Curtains": ("Curtain Pair", "Blackout Curtain", "Sheer Curtain"),
            "Cushions & Throws": ("Cushion Cover", "Throw", "Seat Pad"),
        },
    ),
)  # fmt: skip

ELASTICITIES = np.array([c.elasticity for c in CATEGORIES])


def yearly_factors(day: date) -> np.ndarray:
    """Seasonal demand factor per category on `day` (mean about 1 over a year)."""
    day_of_year = day.timetuple().tm_yday
    amplitude = np.array([c.season_amplitude for c in CATEGORIES])
    peak = np.array([c.season_peak_day for c in CATEGORIES])
    christmas = np.array([c.christmas_boost for c in CATEGORIES])
    cosine = amplitude * np.cos(2 * np.pi * (day_of_year - peak) / 365.25)
    bump_shape = np.exp(
        -0.5 * ((day_of_year - CHRISTMAS_PEAK_DAY_OF_YEAR) / CHRISTMAS_PEAK_WIDTH_DAYS) ** 2
    )
    # The bump's yearly mean is boost * width * sqrt(2 pi) / 365.25; dividing by 1 + that keeps the
    # yearly mean at 1 so the Christmas peak moves demand into December instead of adding to it.
    bump_mean = christmas * CHRISTMAS_PEAK_WIDTH_DAYS * np.sqrt(2 * np.pi) / 365.25
    return (1.0 + cosine + christmas * bump_shape) / (1.0 + bump_mean)


def promotion_lift(promo_pct: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Demand multiplier of a price cut of `promo_pct` percent under constant elasticity."""
    price_ratio = 1.0 - promo_pct / 100.0
    return price_ratio ** (-ELASTICITIES[category])
