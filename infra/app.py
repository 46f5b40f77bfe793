#!/usr/bin/env python3
"""CDK entry point: ``cdk synth`` / ``cdk deploy`` run this (see cdk.json).

Without the CDK CLI, ``python infra/app.py`` writes the same cloud assembly to
``infra/cdk.out`` (or ``$CDK_OUTDIR``). Parameters come from context:
``cdk deploy -c stream_shards=4 -c raw_expiry_days=30``; see
authpulse_infra/config.py for every key and its default.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from authpulse_infra import ConfigError, build_app  # noqa: E402


def main() -> int:
    try:
        # The CDK CLI says where the assembly goes (CDK_OUTDIR); run by hand, cdk.out here.
        app, _ = build_app(outdir=None if os.environ.get("CDK_OUTDIR") else str(HERE / "cdk.out"))
    except ConfigError as exc:
        print(f"authpulse-infra: error: {exc}", file=sys.stderr)
        return 2
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
