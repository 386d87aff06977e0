"""``python -m sayso`` is the ``sayso`` command."""

from sayso.cli import main

main()
