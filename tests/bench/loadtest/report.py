"""The figures as tables: one per server, and the ratios between two servers."""

from __future__ import annotations

from typing import Any


def rows(result: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    """(metric, value, unit) for each headline figure; lower is better for all but rates."""
    probes = result["probes"]
    idle = result.get("idle", {})
    load = result.get("steady") or _highest_held_step(result.get("ramp"))
    out: list[tuple[str, float | None, str]] = [
        ("registration rate", probes["register"]["per_second"], "/s"),
        ("createRoom p50", probes["create_room"]["p50"], "ms"),
        ("initial sync, 50 rooms p50", probes["initial_sync_50_rooms"]["p50"], "ms"),
        ("initial sync, 50 rooms first", probes["initial_sync_50_rooms"]["first_ms"], "ms"),
        (
            "initial sync, 50 rooms, distinct p50",
            probes.get("initial_sync_50_rooms_distinct", {}).get("p50"),
            "ms",
        ),
        ("join 1,000-member room p50", probes["join_big_room"]["p50"], "ms"),
        ("/messages page of 50 p50", probes["messages_page_50"]["p50"], "ms"),
        ("long-polls open after", result.get("long_polls_open_seconds"), "s"),
        ("idle: server CPU", idle.get("server_cpu_pct"), "%"),
        ("idle: Postgres CPU", idle.get("postgres_cpu_pct"), "%"),
        ("idle: syncs answered", idle.get("syncs_per_second"), "/s"),
        ("idle: server RSS", idle.get("server_rss_mb_peak"), "MB"),
    ]
    if result.get("ramp"):
        out.append(("ramp: highest rate held", result["ramp"]["highest_rate_held"], "msg/s"))
    if load:
        out += [
            ("load: message rate", load["rate_achieved"], "msg/s"),
            ("load: send p50", load["send_ms"]["p50"], "ms"),
            ("load: send p99", load["send_ms"]["p99"], "ms"),
            ("load: delivery p50", load["delivery_ms"]["p50"], "ms"),
            ("load: delivery p95", load["delivery_ms"]["p95"], "ms"),
            ("load: delivery p99", load["delivery_ms"]["p99"], "ms"),
            ("load: deliveries", load["deliveries"], ""),
            ("load: missing", load["missing"], ""),
            ("load: syncs answered", load["syncs_per_second"], "/s"),
            ("load: server CPU", load["server_cpu_pct"], "%"),
            ("load: Postgres CPU", load["postgres_cpu_pct"], "%"),
            ("load: server RSS peak", load["server_rss_mb_peak"], "MB"),
            ("load: generator CPU", load["generator_cpu_pct"], "%"),
        ]
    return out


def _highest_held_step(ramp: dict[str, Any] | None) -> dict[str, Any] | None:
    if not ramp or not ramp["steps"]:
        return None
    held = [step for step in ramp["steps"] if step["held"]]
    return held[-1] if held else ramp["steps"][0]


def _cell(value: float | None, unit: str) -> str:
    return "-" if value is None else f"{value:g} {unit}".strip()


def print_result(result: dict[str, Any]) -> None:
    spec = result["population"]
    print(
        f"\n== {result['server']}: {spec['users']} users, {spec['dms']} DMs, {spec['groups']} "
        f"groups of {spec['group_size']}, big rooms {spec['big_rooms']}; "
        f"{result['active']} active; load average {result['load_average_after']}"
    )
    print(f"   settings: {result['settings']}")
    for metric, value, unit in rows(result):
        print(f"   {metric:<30} {_cell(value, unit):>14}")
    errors = result.get("errors_total")
    print(f"   HTTP errors by status: {errors or 'none'}")
    for step in (result.get("ramp") or {}).get("steps", []):
        print(f"   {summarise_step(step)}")
    load = result.get("steady") or _highest_held_step(result.get("ramp"))
    for label, queries in (
        ("DB queries per idle sync", result.get("idle", {}).get("db_queries_per_sync")),
        ("DB queries per message", (load or {}).get("db_queries_per_message")),
    ):
        if queries:
            print(f"   {label}: {queries}")


def print_comparison(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    print(
        f"\n== ratio table: {theirs['server']} / ours (above 1: ours is better, "
        "except for rates, where below 1 is)"
    )
    print(f"   {'metric':<30} {'ours':>14} {'synapse':>14} {'ratio':>8}")
    their_rows = {metric: value for metric, value, _ in rows(theirs)}
    for metric, value, unit in rows(ours):
        other = their_rows.get(metric)
        ratio = f"{other / value:.2f}" if value and other is not None else "-"
        print(f"   {metric:<30} {_cell(value, unit):>14} {_cell(other, unit):>14} {ratio:>8}")


def summarise_step(step: dict[str, Any]) -> str:
    return (
        f"ramp {step['rate_asked']:g} msg/s: delivery p99 {step['delivery_ms']['p99']} ms, "
        f"missing {step['missing']}, errors {step['errors'] or 0}, "
        f"server CPU {step['server_cpu_pct']}% -> {'held' if step['held'] else 'NOT held'}"
    )
