"""The requests bench/cache_replay.py replays: feature-shaped variables, rewordings and must-not-hit near-misses."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from typing import Any

from services.email.checks import redact_name

OUTPUT_TOKENS = {
    "caption": 70,
    "hashtags": 60,
    "post_suggestion": 220,
    "performance_analysis": 380,
    "optimization_explanation": 300,
    "email_reply": 260,
}
PRODUCTS = [
    ("Cola 330ml", 1.80),
    ("Sparkling Water 500ml", 1.20),
    ("Oat Bar", 1.50),
    ("Ghost Energy", 2.40),
    ("Salted Crisps", 1.10),
    ("Iced Coffee", 2.20),
    ("Dark Chocolate", 1.60),
    ("Protein Shake", 2.90),
]
SCENES = [
    (
        "A can of {p} on an office desk next to a laptop",
        ["{p} can on an office desk beside a laptop", "an office desk with a can of {p} next to the laptop"],
    ),
    (
        "Gym bag with a cold {p} after a workout",
        ["a cold {p} in a gym bag after the workout", "After a workout: a gym bag with a cold {p}"],
    ),
    (
        "Students grabbing {p} from the machine between lectures",
        [
            "students grab {p} from the vending machine between lectures",
            "between lectures, students grabbing {p} from the machine",
        ],
    ),
    (
        "{p} in the hospital staff room at night shift",
        ["night shift in the hospital staff room with {p}", "{p} in the staff room of the hospital, night shift"],
    ),
]
NOTES = [
    ("mention the machine on floor 2", ["Mention the machine on floor 2.", "please mention the floor 2 machine"]),
    ("keep it short", ["Keep it short.", "short please, keep it short"]),
]
OCCASIONS = [
    ("Friday office lunch break", ["the Friday lunch break at the office", "office lunch break on Friday"]),
    ("exam week at the university", ["university exam week", "the week of exams at the university"]),
    ("first hot day of summer", ["the first hot summer day", "first hot day this summer"]),
]
CUSTOMERS = ["Jane Doe", "Omar Haddad", "Li Wei", "Maria Garcia", "Tom Becker", "Aisha Khan"]
EMAILS = [
    ("The machine at Central Station took my money but gave no {p}. Can you refund me?", "return"),
    ("Is {p} available in the machine on floor 3? I cannot find it.", "inquiry"),
    ("The {p} I bought was warm and the card reader charged me twice.", "complaint"),
]


@dataclass(frozen=True)
class Base:
    """One request as a feature builds it, plus what it takes to vary it."""

    feature: str
    prompt: str
    variables: dict[str, Any]
    meaning: str
    user: str
    paraphrase: tuple[str, ...] = ()
    rewordings: dict[str, list[str]] = field(default_factory=dict)
    near: tuple[dict[str, Any], ...] = ()
    pii: bool = False
    scope: str | None = None

    def variant(self, kind: str, rng: random.Random) -> Base:
        """The same meaning reworded or re-spaced, or (near_miss) a new meaning one entity away."""
        if kind == "whitespace":
            return replace(self, variables={k: _respace(v, rng) for k, v in self.variables.items()})
        if kind == "paraphrase" and self.rewordings:
            changed = {k: rng.choice(options) for k, options in self.rewordings.items()}
            return replace(self, variables={**self.variables, **changed})
        if kind == "near_miss" and self.near:
            change = rng.choice(self.near)
            variables = {**self.variables, **change.get("variables", {})}
            scope = change.get("scope", self.scope)
            return replace(self, variables=variables, scope=scope, meaning=meaning_of(self.feature, variables, scope))
        return self


def catalog(rng: random.Random) -> list[Base]:
    """Every distinct base request, shuffled (Zipf rank = position); its meaning is its content."""
    bases = [*_captions(), *_hashtags(), *_suggestions(), *_performance(), *_explanations(), *_emails()]
    unique: dict[str, Base] = {}
    for base in bases:
        meaning = meaning_of(base.feature, base.variables, base.scope)
        unique.setdefault(meaning, replace(base, meaning=meaning))
    ordered = list(unique.values())
    rng.shuffle(ordered)
    return ordered


def meaning_of(feature: str, variables: dict[str, Any], scope: str | None) -> str:
    """Two requests mean the same when feature, scope and (original-wording) variables are equal."""
    return feature + ":" + hashlib.sha256(repr((sorted(variables.items()), scope)).encode()).hexdigest()[:10]


def _captions() -> list[Base]:
    out = []
    combos = [(product, scene) for product in PRODUCTS for scene in SCENES] * 2  # x2: the other note and style
    for i, ((name, price), (scene, scene_alts)) in enumerate(combos):
        note, note_alts = NOTES[i % 2]
        other, other_price = PRODUCTS[(i + 1) % len(PRODUCTS)]
        style = ("casual", "funny", "professional")[i % 3]
        variables = {
            "product_name": name,
            "platform": "instagram",
            "style": style,
            "max_chars": 2200,
            "product_description": f"{name} (drinks, {price:.2f})",
            "media_description": scene.format(p=name.split()[0]),
            "notes": note,
        }
        near = (
            {"variables": {"product_name": other, "product_description": f"{other} (drinks, {other_price:.2f})"}},
            {"variables": {"product_description": f"{name} (drinks, {price + 0.3:.2f})"}},
            {"variables": {"notes": note.replace("2", "4") if "2" in note else "keep it under 50 words"}},
        )
        out.append(
            Base(
                "caption",
                "caption",
                variables,
                f"caption{i}",
                f"marketer{i % 2}",
                ("media_description", "notes"),
                {"media_description": [a.format(p=name.split()[0]) for a in scene_alts], "notes": note_alts},
                near,
            )
        )
    return out


def _hashtags() -> list[Base]:
    out = []
    for i, (name, _) in enumerate(PRODUCTS * 2):
        caption = f"Grab a cold {name} at the machine on your break!"
        variables = {
            "product_name": name,
            "platform": ("tiktok", "instagram")[i // len(PRODUCTS)],
            "max_hashtags": 10,
            "caption": caption,
            "product_description": f"{name} (category: drinks)",
        }
        alts = [
            f"grab a cold {name} at the machine on your break",
            f"On your break? Grab a cold {name} at the machine!",
        ]
        near = (
            {"variables": {"max_hashtags": 15}},
            {
                "variables": {
                    "product_name": PRODUCTS[(i + 2) % 8][0],
                    "product_description": f"{PRODUCTS[(i + 2) % 8][0]} (category: drinks)",
                }
            },
        )
        out.append(
            Base(
                "hashtags",
                "hashtags",
                variables,
                f"hashtags{i}",
                f"marketer{i % 2}",
                ("caption",),
                {"caption": alts},
                near,
            )
        )
    return out


def _suggestions() -> list[Base]:
    out = []
    for i, (occasion, alts) in enumerate(OCCASIONS * 2):
        platform = ("instagram", "linkedin")[i // 3]
        variables = {
            "platform": platform,
            "today": "2026-12-04 (Friday)",
            "products": _product_lines(i),
            "trending_categories": "drinks: 410 units, +12.0%\nsnacks: 260 units, -3.0%",
            "recent_posts": "instagram 2026-12-01: Cold Cola for the commute (420 likes)",
            "queue": "nothing approved waiting to be published",
            "occasion": occasion,
        }
        near = ({"variables": {"today": "2026-12-05 (Saturday)"}}, {"variables": {"products": _product_lines(i + 1)}})
        out.append(
            Base(
                "post_suggestion",
                "content_suggestion",
                variables,
                f"suggestion{i}",
                f"marketer{i % 2}",
                ("occasion",),
                {"occasion": alts},
                near,
            )
        )
    return out


def _performance() -> list[Base]:
    out = []
    for i in range(12):
        device = f"D{10 + i}"
        variables = {
            "device_name": device,
            "period": f"2026-11-{1 + i:02d} to 2026-11-{14 + i:02d} (14 days)",
            "metrics": f'{{"revenue": {900 + 37 * i}.5, "units": {510 + 11 * i}, "revenue_change_pct": 4.{i}}}',
            "top_products": '[{"sku": "COLA", "units": 120}, {"sku": "WATER", "units": 90}]',
            "bottom_products": '[{"sku": "GUM", "units": 3}]',
            "posts": '{"posts": 4}',
        }
        near = (
            {"variables": {"device_name": f"D{30 + i}"}},
            {"variables": {"period": f"2026-10-{1 + i:02d} to 2026-10-{14 + i:02d} (14 days)"}},
        )
        out.append(Base("performance_analysis", "performance_analysis", variables, f"perf{i}", "marketer0", near=near))
    return out


def _explanations() -> list[Base]:
    out = []
    for i in range(12):
        variables = {
            "device_name": f"Gym lobby (D{20 + i})",
            "objective": "margin",
            "metrics": f"objective value per day (margin): {41 + i}.20 → {44 + i}.75 (+3.55, +8.6 %)",
            "changes": f"A{1 + i}: Oat Bar → Ghost Energy; value of this change +2.10 per day",
        }
        near = (
            {"variables": {"metrics": f"objective value per day (margin): {41 + i}.20 → {45 + i}.05 (+3.85, +9.3 %)"}},
        )
        out.append(
            Base("optimization_explanation", "planogram_optimization", variables, f"explain{i}", "merch0", near=near)
        )
    return out


def _emails() -> list[Base]:
    out = []
    for i, customer in enumerate(CUSTOMERS * 2):
        template, kind = EMAILS[i % 3]
        product = PRODUCTS[i % len(PRODUCTS)][0]
        body = (
            f"Hello, my name is {customer}. "
            + template.format(p=product)
            + f" Thanks, {customer} (jane{i}@example.com)"
        )
        out.append(_email(i, customer, body, kind))
    return out


def _email(i: int, customer: str, body: str, kind: str) -> Base:
    scope = "customer:" + hashlib.sha256(" ".join(customer.lower().split()).encode()).hexdigest()[:16]
    other = CUSTOMERS[(i + 1) % len(CUSTOMERS)]
    variables = {
        "customer_email": redact_name(body, customer),
        "company_name": "The Vending Team",
        "tone": "professional",
        "company_context": "Refunds within 14 days.",
        "order_context": "No order.",
    }
    spaced = redact_name(body.replace(customer, customer.replace(" ", "  ")), customer)
    other_body = body.replace(customer, other)
    near = (
        {
            "variables": {"customer_email": redact_name(other_body, other)},
            "scope": "customer:" + hashlib.sha256(other.lower().encode()).hexdigest()[:16],
        },
    )
    return Base(
        "email_reply",
        f"email_response_{kind}",
        variables,
        f"email{i}",
        f"agent{i % 2}",
        rewordings={"customer_email": [spaced]},
        near=near,
        pii=True,
        scope=scope,
    )


def _product_lines(shift: int) -> str:
    rows = PRODUCTS[shift % 8 :] + PRODUCTS[: shift % 8]
    return "\n".join(
        f"{name.split()[0].upper()} | {name} | drinks | {40 + 3 * k} units last 14 days | +{k}.0%"
        for k, (name, _) in enumerate(rows[:4])
    )


def _respace(value: Any, rng: random.Random) -> Any:
    if not isinstance(value, str) or " " not in value:
        return value
    words = value.split(" ")
    spot = rng.randrange(len(words))
    words[spot] = words[spot] + " "
    return "  " + " ".join(words) + "\n\n"


def _digest(change: dict[str, Any]) -> str:
    return hashlib.sha256(repr(sorted(change.items())).encode()).hexdigest()[:8]
