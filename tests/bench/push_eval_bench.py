"""Push-rule evaluation: CPU time to evaluate one event for every member of a large room.

Pure CPU, no server: builds `--members` members with distinct display names, each with the
server defaults plus five rules of their own (a keyword content rule, a room rule and a
mute override for other rooms, a sender rule, an underride), then times building the
event's facts and `evaluate_for_members` for everyone, for a plain group message, a message
mentioning three members, and an encrypted event. Prints the median (and p90 and minimum)
of `--runs` runs of process CPU time (a busy machine inflates even CPU time: compare the
minimum). Variants: every member with the same five rules, and no custom rules at all.

    .venv/bin/python -m tests.bench.push_eval_bench --members 1000 --runs 300
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

from homeserver.rules.push.defaults import DEFAULT_RULES, LEGACY_DEFAULT_RULES, DefaultRules
from homeserver.rules.push.evaluator import EventFacts, MemberFacts, evaluate_for_members
from homeserver.rules.push.model import RuleKind
from homeserver.rules.push.parse import parse_rule
from homeserver.rules.push.ruleset import PushRuleSet

ROOM = "!bench:example.org"
SENDER = "@speaker:example.org"
NOTIFY_HIGHLIGHT: list[Any] = ["notify", {"set_tweak": "highlight"}]


def custom_rules(tag: str, defaults: DefaultRules) -> PushRuleSet:
    rules = {
        RuleKind.CONTENT: [
            parse_rule("content", f"kw{tag}", {"pattern": f"keyword{tag}", "actions": ["notify"]})
        ],
        RuleKind.ROOM: [parse_rule("room", f"!other{tag}:example.org", {"actions": []})],
        RuleKind.SENDER: [parse_rule("sender", f"@spam{tag}:example.org", {"actions": []})],
        RuleKind.OVERRIDE: [
            parse_rule(
                "override",
                f"!muted{tag}:example.org",
                {
                    "conditions": [
                        {"kind": "event_match", "key": "room_id", "pattern": f"!muted{tag}:x"}
                    ],
                    "actions": [],
                },
            )
        ],
        RuleKind.UNDERRIDE: [
            parse_rule(
                "underride",
                f"stickers{tag}",
                {
                    "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.sticker"}],
                    "actions": NOTIFY_HIGHLIGHT,
                },
            )
        ],
    }
    return PushRuleSet.build(rules, defaults=defaults)


def members(count: int) -> list[MemberFacts]:
    return [
        MemberFacts(f"@member{n}:example.org", f"Member Number {n} ({n * 7919 % 1000})")
        for n in range(count)
    ]


def events(people: list[MemberFacts]) -> dict[str, dict[str, Any]]:
    mentioned = [people[3], people[400], people[999 % len(people)]]
    base = {"room_id": ROOM, "sender": SENDER, "origin_server_ts": 1, "depth": 10}
    return {
        "plain message": {
            **base,
            "type": "m.room.message",
            "content": {"msgtype": "m.text", "body": "Lunch is at noon today, who is in?"},
        },
        "mentions 3": {
            **base,
            "type": "m.room.message",
            "content": {
                "msgtype": "m.text",
                "body": "Hey "
                + ", ".join(m.display_name or "" for m in mentioned)
                + ": can you review?",
                "m.mentions": {"user_ids": [m.user_id for m in mentioned]},
            },
        },
        "encrypted": {
            **base,
            "type": "m.room.encrypted",
            "content": {
                "algorithm": "m.megolm.v1.aes-sha2",
                "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za1YVchHyprqTqsg2yyOwAtHaZTwyNg" * 4,
                "device_id": "DEVICE",
                "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMrOHqn/8mLqMjA",
                "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0Jbu+QFnm0cKQ",
            },
        },
    }


def cpu_ms(run: Callable[[], object], runs: int) -> tuple[float, float, float]:
    samples = []
    for _ in range(runs):
        started = time.process_time_ns()
        run()
        samples.append((time.process_time_ns() - started) / 1e6)
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))], ordered[0]


def bench(label: str, recipients: list[tuple[PushRuleSet, MemberFacts]], runs: int) -> None:
    people = [member for _, member in recipients]
    print(f"{label} ({len(recipients)} members)")
    for name, event in events(people).items():

        def once(event: dict[str, Any] = event) -> object:
            facts = EventFacts.build(
                event,
                room_member_count=len(recipients) + 1,
                sender_power_level=0,
                notification_levels={"room": 50},
            )
            return evaluate_for_members(facts, recipients)

        results = once()  # compiles each rule set once, as a running server would have
        assert isinstance(results, list)
        notified = sum(1 for r in results if r is not None and r.summary.notify)
        highlighted = sum(1 for r in results if r is not None and r.summary.highlight)
        median, p90, fastest = cpu_ms(once, runs)
        print(
            f"  {name:14} median {median:6.3f} ms  p90 {p90:6.3f} ms  min {fastest:6.3f} ms  "
            f"(notify {notified}, highlight {highlighted})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument(
        "--defaults",
        choices=("legacy", "v1.19"),
        default="legacy",
        help="the server's defaults (push.legacy_mention_rules true) or exactly v1.19's",
    )
    args = parser.parse_args()
    defaults = LEGACY_DEFAULT_RULES if args.defaults == "legacy" else DEFAULT_RULES
    people = members(args.members)
    bench(
        "defaults + 5 distinct custom rules each",
        [(custom_rules(str(n), defaults), m) for n, m in enumerate(people)],
        args.runs,
    )
    shared = custom_rules("shared", defaults)
    bench("defaults + the same 5 custom rules", [(shared, m) for m in people], args.runs)
    only_defaults = PushRuleSet.build(defaults=defaults)
    bench("defaults only", [(only_defaults, m) for m in people], args.runs)


if __name__ == "__main__":
    main()
