"""``python -m imagecheck``."""

from .cli import main

raise SystemExit(main())
