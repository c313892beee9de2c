"""Print the README's reliability table from what the suites recorded in their last run."""

from __future__ import annotations

import json

from .conftest import RESULTS


def main() -> None:
    rows = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))]
    print("| suite | cases tried | faults injected | entries lost | corrupt entries served |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        mode = "" if r["full"] else " (CI settings)"
        print(
            f"| {r['suite']}{mode} | {r['cases']} | {r['faults']} | {r['lost']} "
            f"| {r['corrupt_served']} |"
        )


if __name__ == "__main__":
    main()
