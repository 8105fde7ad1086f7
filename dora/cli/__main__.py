"""``python -m dora.cli``: the same commands as the ``dora`` script."""

from dora.cli.main import main

main()
