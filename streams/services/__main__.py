"""`python -m streams.services …` (see streams/services/cli.py)."""

from streams.services.cli import main

main()
