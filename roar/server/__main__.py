"""`python -m roar.server`: the same as `glaas-server`."""

from roar.server.cli import main

main()
