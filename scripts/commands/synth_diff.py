"""`synth-diff`: what a change does to each stack, resource by resource."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from scripts import args as common
from scripts.infra.synth_diff import __doc__ as synth_diff_doc
from scripts.infra.synth_diff import diff_dirs, to_json, to_markdown


def run(args: argparse.Namespace) -> dict[str, Any]:
    diff = diff_dirs(Path(args.base_dir), Path(args.head_dir))
    if not args.json:
        # The Markdown is this command's product (CI appends it to the job summary).
        print(to_markdown(diff))
    return to_json(diff)


def register(subparsers: common.Subparsers[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "synth-diff",
        help="resource-level Markdown diff of two `cdktf synth` outputs",
        description=synth_diff_doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("base_dir", metavar="BASE_DIR", help="base cdktf.out (or its parent)")
    parser.add_argument("head_dir", metavar="HEAD_DIR", help="head cdktf.out (or its parent)")
    parser.set_defaults(handler=run)
    return parser
