"""The default menu, seeded on first start (prices in integer cents)."""

from __future__ import annotations

from typing import Any

DEFAULT_STOCK = 100

DEFAULT_MENU: list[dict[str, Any]] = [
    {
        "id": "margherita",
        "name": "Pizza Margherita",
        "category": "pizza",
        "description": "Tomato, mozzarella, basil",
        "price_cents": 950,
    },
    {
        "id": "diavola",
        "name": "Pizza Diavola",
        "category": "pizza",
        "description": "Tomato, mozzarella, spicy salami",
        "price_cents": 1150,
    },
    {
        "id": "funghi",
        "name": "Pizza Funghi",
        "category": "pizza",
        "description": "Tomato, mozzarella, mushrooms",
        "price_cents": 1050,
    },
    {
        "id": "carbonara",
        "name": "Spaghetti Carbonara",
        "category": "pasta",
        "description": "Egg, pecorino, guanciale, black pepper",
        "price_cents": 1250,
    },
    {
        "id": "arrabbiata",
        "name": "Penne all'Arrabbiata",
        "category": "pasta",
        "description": "Tomato, garlic, chili",
        "price_cents": 990,
    },
    {
        "id": "lasagna",
        "name": "Lasagna al Forno",
        "category": "pasta",
        "description": "Beef ragù, béchamel",
        "price_cents": 1390,
    },
    {
        "id": "caesar",
        "name": "Caesar Salad",
        "category": "salad",
        "description": "Romaine, croutons, parmesan",
        "price_cents": 890,
    },
    {
        "id": "caprese",
        "name": "Insalata Caprese",
        "category": "salad",
        "description": "Tomato, buffalo mozzarella, basil",
        "price_cents": 920,
    },
    {
        "id": "tiramisu",
        "name": "Tiramisù",
        "category": "dessert",
        "description": "Mascarpone, coffee, cocoa",
        "price_cents": 650,
    },
    {
        "id": "panna-cotta",
        "name": "Panna Cotta",
        "category": "dessert",
        "description": "Vanilla cream, berry coulis",
        "price_cents": 590,
    },
    {
        "id": "lemonade",
        "name": "Homemade Lemonade",
        "category": "drinks",
        "description": "Lemon, mint, sparkling water",
        "price_cents": 390,
    },
    {
        "id": "espresso",
        "name": "Espresso",
        "category": "drinks",
        "description": "Single shot",
        "price_cents": 250,
    },
]
