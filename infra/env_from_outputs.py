#!/usr/bin/env python3
"""Turn the deployed stack's outputs into the environment AUTHPULSE_ENV=aws reads.

    cdk deploy --outputs-file outputs.json && python infra/env_from_outputs.py outputs.json > aws.env
    aws cloudformation describe-stacks --stack-name AuthPulse | python infra/env_from_outputs.py - > aws.env
    set -a; . ./aws.env; set +a

Accepts either shape: the CDK outputs file ({"AuthPulse": {"OutputKey": value}})
or ``describe-stacks`` JSON. Prints ``export NAME=value`` lines, quoted for sh.
Needs no CDK and no AWS access.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from authpulse_infra.outputs import env_from_outputs  # noqa: E402


def stack_outputs(document: Any, stack: str | None = None) -> dict[str, str]:
    """OutputKey -> value from either JSON shape; picks ``stack`` if several."""
    if isinstance(document, dict) and "Stacks" in document:
        stacks = {s["StackName"]: {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])} for s in document["Stacks"]}
    elif isinstance(document, dict) and all(isinstance(v, dict) for v in document.values()):
        stacks = dict(document)
    else:
        raise ValueError("not a CDK outputs file or describe-stacks output")
    if stack is not None:
        if stack not in stacks:
            raise ValueError(f"stack {stack!r} not in the input (found: {', '.join(sorted(stacks)) or 'none'})")
        return stacks[stack]
    if len(stacks) != 1:
        raise ValueError(f"{len(stacks)} stacks in the input; pick one with --stack")
    return next(iter(stacks.values()))


def render(env: dict[str, str]) -> str:
    lines = ["export AUTHPULSE_ENV=aws"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="outputs JSON file, or - for stdin")
    parser.add_argument("--stack", help="stack name when the input holds several")
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.source == "-" else Path(args.source).read_text()
        env = env_from_outputs(stack_outputs(json.loads(text), args.stack))
    except (OSError, ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"env_from_outputs: error: {message}", file=sys.stderr)
        return 2
    sys.stdout.write(render(env))
    return 0


if __name__ == "__main__":
    sys.exit(main())
