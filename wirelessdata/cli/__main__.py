"""``python -m wirelessdata.cli``: the ``wirelessdata`` command."""

from wirelessdata.cli import main

main()
