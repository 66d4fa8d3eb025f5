"""`python -m mos …` is the same as the `mos` command."""

from mos.cli.app import main

main()
