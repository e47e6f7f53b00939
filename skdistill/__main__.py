"""``python -m skdistill``: the command line (see ``python -m skdistill --help``)."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
