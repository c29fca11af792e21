"""What drawing a citizen's code as an SVG QR code costs, per code: segno's drawing (as
`GET /v1/me/code` made it before) beside `codesvc.codes.qr.svg` (the same bytes).

Codes are issued as the service issues them (ES256, sealed reference). Each round draws
every code both ways, in CPU time of this process, and checks the two drawings equal;
the median of the rounds is printed with the ratio. Run:

    .venv/bin/python bench/qr.py [--codes 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from codesvc.codes import qr
from codesvc.codes.ring import KeyRing, new_signing_key
from codesvc.codes.sealing import CodeSecrets


def per_code(draw: Callable[[str, str], str], codes: list[tuple[str, str]]) -> float:
    """CPU seconds per code to draw every one of ``codes``."""
    started = time.process_time()
    for code, title in codes:
        draw(code, title)
    return (time.process_time() - started) / len(codes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    now = datetime.now(UTC)
    ring = KeyRing(CodeSecrets(b"bench-code-secret-0123456789abcd"), [new_signing_key(now)])
    colors = ("green", "yellow", "red")
    codes = []
    for n in range(args.codes):
        issued = ring.issue(10_000_000 + n * 7919, colors[n % 3], now, now, 60)
        codes.append((issued.code, f"health code: {issued.color}"))
    for code, title in codes:  # the same bytes, and each symbol's shared parts made once
        assert qr.svg(code, title) == qr.segno_svg(code, title)
    before, after = [], []
    for n in range(1, args.rounds + 1):
        before.append(per_code(qr.segno_svg, codes))
        after.append(per_code(qr.svg, codes))
        print(
            f"round {n}: segno {before[-1] * 1e3:.2f} ms/code, "
            f"codesvc.codes.qr {after[-1] * 1e3:.3f} ms/code"
        )
    b, a = statistics.median(before), statistics.median(after)
    print(
        f"{len(codes)} codes of {len(codes[0][0])} characters, median of {args.rounds} rounds: "
        f"segno {b * 1e3:.2f} ms/code, codesvc.codes.qr {a * 1e3:.3f} ms/code, "
        f"{b / a:.1f}x less CPU"
    )


if __name__ == "__main__":
    main()
