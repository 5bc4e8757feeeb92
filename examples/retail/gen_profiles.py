#!/usr/bin/env python3
"""Regenerates profiles.jsonl, the demo customer profiles (deterministic)."""
import json, random
from datetime import datetime, timedelta, timezone

rng = random.Random(7)
base = datetime(2026, 11, 1, tzinfo=timezone.utc)
stages = ["awareness", "consideration", "cart", "purchase", "retention"]
tiers = ["bronze", "bronze", "bronze", "silver", "silver", "gold", "platinum"]
regions = ["north", "south", "east", "west"]
channels = ["web", "app", "email", "call_centre"]

def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

with open("profiles.jsonl", "w") as out:
    for i in range(1, 201):
        first = base - timedelta(days=rng.randint(1, 900))
        stage = rng.choices(stages, weights=[2, 3, 2, 2, 3])[0]
        purchases = 0 if stage in ("awareness", "consideration") else rng.randint(0, 4)
        last = {}
        last["page_view"] = base - timedelta(hours=rng.randint(1, 24 * 20))
        if purchases:
            last["purchase"] = base - timedelta(days=rng.randint(1, 80))
        if rng.random() < 0.4:
            last["app_open"] = base - timedelta(days=rng.randint(0, 90))
        if rng.random() < 0.1:
            last["support_call"] = base - timedelta(days=rng.randint(0, 20))
        if stage == "cart":
            last["add_to_cart"] = base - timedelta(hours=rng.randint(1, 72))
        counters = {
            "visits_7d": {"value": round(rng.uniform(0, 12), 3), "at": ts(base)},
            "product_views_7d": {"value": round(rng.uniform(0, 30), 3), "at": ts(base)},
            "purchases_30d": {"value": float(purchases), "at": ts(base)},
            "spend_30d": {"value": round(purchases * rng.uniform(20, 120), 2), "at": ts(base)},
        }
        if stage == "cart":
            counters["cart_adds_7d"] = {"value": float(rng.randint(1, 3)), "at": ts(base)}
        p = {
            "customer_id": f"c-{i:04d}",
            "first_seen": ts(first),
            "updated_at": ts(base),
            "attributes": {
                "age": rng.randint(18, 80),
                "region": rng.choice(regions),
                "tier": rng.choice(tiers),
                "email_opt_in": rng.random() < 0.8,
            },
            "counters": counters,
            "last_event": {k: ts(v) for k, v in sorted(last.items())},
            "last_channel": rng.choice(channels),
            "stage": stage,
            "stage_since": ts(base - timedelta(days=rng.randint(0, 30))),
        }
        if not p["attributes"]["email_opt_in"]:
            p["consents"] = {"email": False}
        out.write(json.dumps(p, separators=(",", ":")) + "\n")
