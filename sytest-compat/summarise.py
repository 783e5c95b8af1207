"""Summarise a SyTest TAP result: totals and a table per test category; or check it
against the whitelist (every test named there must pass).

    python summarise.py --sytest-dir DIR results.tap
    python summarise.py --check-whitelist whitelist.txt results.tap
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

_RESULT = re.compile(r"^(?P<not>not )?ok \d+ (?P<rest>.*)$")
_DIRECTIVE = re.compile(r"\s+# (?P<kind>skip|TODO)\b.*$", re.IGNORECASE)
_EXPECTED_FAIL = re.compile(r"^\(expected fail\)\s*")
# `test "name"`, `multi_test "name"` and the like in SyTest's test files.
_DECLARATION = re.compile(r"""\b(?:multi_)?test\s*\(?\s*(["'])(?P<name>(?:\\.|(?!\1).)*)\1""")
_INTERPOLATION = re.compile(r"\\\$|\$\{[^}]*\}|\$\w+(?:->\w+|\[[^]]*\]|\{[^}]*\})*|@\w+")


@dataclass(frozen=True)
class Result:
    name: str
    outcome: str  # "pass", "fail" or "skip"


def read_results(tap: Path) -> list[Result]:
    results = []
    for line in tap.read_text(errors="replace").splitlines():
        match = _RESULT.match(line)
        if match is None:
            continue
        rest = match["rest"]
        directive = _DIRECTIVE.search(rest)
        name = _EXPECTED_FAIL.sub("", _DIRECTIVE.sub("", rest)).strip()
        if directive is not None and directive["kind"].lower() == "skip":
            outcome = "skip"
        elif match["not"] or (directive is not None and directive["kind"] == "TODO"):
            outcome = "fail"
        else:
            outcome = "pass"
        results.append(Result(name, outcome))
    return results


def category_of(path: Path, tests_dir: Path) -> str:
    relative = path.relative_to(tests_dir)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def declared_tests(sytest_dir: Path) -> list[tuple[re.Pattern[str], str]]:
    """(pattern of the test's name, category) for every test SyTest declares; names built
    from variables match anything where the variable was."""
    tests_dir = sytest_dir / "tests"
    patterns = []
    for path in sorted(tests_dir.rglob("*.pl")):
        category = category_of(path, tests_dir)
        for match in _DECLARATION.finditer(path.read_text(errors="replace")):
            parts = _INTERPOLATION.split(match["name"].replace('\\"', '"'))
            pattern = ".*".join(re.escape(part) for part in parts)
            patterns.append((re.compile(f"^{pattern}$", re.DOTALL), category))
    return patterns


def summary(results: list[Result], sytest_dir: Path) -> str:
    patterns = declared_tests(sytest_dir)
    by_category: dict[str, Counter[str]] = {}
    for result in results:
        category = next((c for p, c in patterns if p.match(result.name)), "unmatched")
        by_category.setdefault(category, Counter())[result.outcome] += 1
    totals: Counter[str] = Counter(r.outcome for r in results)
    lines = [
        f"total {len(results)}: passed {totals['pass']}, failed {totals['fail']}, "
        f"skipped {totals['skip']}",
        "",
        f"{'category':<28} {'passed':>7} {'failed':>7} {'skipped':>8} {'pass %':>7}",
    ]
    for category in sorted(by_category):
        counts = by_category[category]
        ran = counts["pass"] + counts["fail"]
        share = f"{100 * counts['pass'] / ran:.0f}%" if ran else "-"
        lines.append(
            f"{category:<28} {counts['pass']:>7} {counts['fail']:>7} {counts['skip']:>8} {share:>7}"
        )
    return "\n".join(lines)


def check_whitelist(results: list[Result], whitelist: Path, require_all: bool) -> list[str]:
    """Whitelisted tests that did not pass: of those that ran, or of all of them when the
    whole suite was meant to run."""
    ran = {r.name for r in results}
    passed = {r.name for r in results if r.outcome == "pass"}
    wanted = [
        line.strip()
        for line in whitelist.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    return [name for name in wanted if (require_all or name in ran) and name not in passed]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("tap", type=Path)
    parser.add_argument("--sytest-dir", type=Path)
    parser.add_argument("--check-whitelist", type=Path)
    parser.add_argument(
        "--require-all", action="store_true", help="a whitelisted test that did not run fails"
    )
    args = parser.parse_args()
    results = read_results(args.tap)
    if args.check_whitelist is not None:
        regressions = check_whitelist(results, args.check_whitelist, args.require_all)
        for name in regressions:
            print(f"REGRESSION: {name}")
        print(f"whitelist: {len(regressions)} regressions")
        return 1 if regressions else 0
    if args.sytest_dir is None:
        parser.error("--sytest-dir is needed for a summary")
    print(summary(results, args.sytest_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
