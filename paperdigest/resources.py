"""Files the program reads at run time besides its code: the built-in templates and the
starter project of ``paperdigest init``.

The top-level ``templates/`` folder of the source tree is the one source of truth for the
templates: a wheel ships it inside the package as ``paperdigest/templates`` (see
``pyproject.toml``), and a source checkout (an editable install) reads it in place.
"""

from __future__ import annotations

from pathlib import Path

from paperdigest.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
STARTER_DIR = PACKAGE_DIR / "starter"


def builtin_templates() -> Path:
    """The folder of the built-in templates: shipped in the package, else the source tree's."""
    for folder in (PACKAGE_DIR / "templates", PACKAGE_DIR.parent / "templates"):
        if (folder / "digest.md.j2").is_file():
            return folder
    raise ConfigError(f"{PACKAGE_DIR}: the built-in templates are missing (a broken installation; reinstall paperdigest)")
