"""``python -m zephyr_logscan ...``: the ``logscan`` command, also from a source checkout."""

from zephyr_logscan.cli import main

main()
