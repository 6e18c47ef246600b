"""paperdigest: scheduled digests of trending research papers.

The package is named ``flows`` because it holds the Prefect flow (``flows.digest``)
and the plain-Python core it wraps. Only ``flows.digest`` and ``flows.cli`` import Prefect.
"""

from __future__ import annotations

__version__ = "0.1.0"
USER_AGENT = f"paperdigest/{__version__} (+https://github.com/paperdigest/paperdigest)"
