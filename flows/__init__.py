"""The Prefect flows that wrap paperdigest's core (the ``paperdigest`` package).

The packaging (``pyproject.toml``) ships this folder inside the package as ``paperdigest.flows``,
in a wheel and in an editable install alike, so installing paperdigest adds no top-level
``flows`` package that could collide with another project's. Import the flows by that name:
``paperdigest.flows.digest`` (the deployment entrypoint of ``prefect.yaml``).
"""
