"""``mc-synth``: realistic synthetic mammograms and patch sets for tests, training and benchmarks.

The subcommands live by what they make: whole mammograms in :mod:`microcalc.synth.cli_images`,
patch sets in :mod:`microcalc.synth.cli_sets`.
"""

from __future__ import annotations

import click

from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.synth.cli_images import mammogram, vendors
from microcalc.synth.cli_sets import compare, patches


@click.group(context_settings=CONTEXT_SETTINGS)
def cli() -> None:
    """Synthetic mammograms (DICOM MG + ground truth JSON) and patch sets cut from phantoms."""


for command in (mammogram, vendors, patches, compare):
    cli.add_command(command)

main = run_cli(cli, "mc-synth")
