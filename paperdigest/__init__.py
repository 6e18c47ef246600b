"""paperdigest: scheduled digests of trending research papers, ranked for each reader.

The core, by capability (the README's "Architecture" section draws it): ``sources`` (fetching
and parsing listings), ``store`` (the database), ``ranking``, ``delivery`` (rendering, email,
SMTP, feeds), ``config``, ``pipeline`` (the steps of a run) and ``cli``. The core never imports
Prefect: the flows that wrap it live in ``flows/`` (``paperdigest.flows`` once installed), and
only ``paperdigest run`` and ``paperdigest serve`` load them.
"""

from __future__ import annotations

__version__ = "0.2.0"
USER_AGENT = f"paperdigest/{__version__} (+https://github.com/paperdigest/paperdigest)"
