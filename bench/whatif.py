"""What-if variants of the runtime API's hot path, applied at run time, for measurement only.

`BENCH_WHATIF=nohealth bash bench/run.sh` (or bench/whatif.sh) serves the console through
`bench.wsgi` with these changes, to put a number on a suggested optimisation before anyone writes
it for real. Nothing here is used by the product, and the api/ code is not edited.

- nohealth: CONN_HEALTH_CHECKS off (bench/settings.py reads it): no `SELECT 1` before the first
  query of each request. Applies to every row, the peer included.

The variants measured before the key record moved to Redis (`rl1rt`, `rawsql`, `keycache`,
`rediskey`, `luafetch`) patched code that no longer exists; their designs were applied (the record
and counter in one Redis command, api/keycache.py) or set aside, and they were removed. Their
numbers stay in docs/performance.md ("What-if runs", historical); the code is in git history.
"""

import os

VARIANTS = {v.strip() for v in os.environ.get("BENCH_WHATIF", "").split(",") if v.strip()}
KNOWN = {"nohealth"}


def apply() -> None:
    """Check the variants asked for (nohealth acts through bench/settings.py, nothing to patch)."""
    unknown = VARIANTS - KNOWN
    if unknown:
        raise SystemExit(f"BENCH_WHATIF: unknown variant(s) {sorted(unknown)}; known: {sorted(KNOWN)}")
