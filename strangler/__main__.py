"""`python -m strangler` — same as the `strangler` console script (used by `strangler up --detach`)."""
from strangler.cli import main

main()
