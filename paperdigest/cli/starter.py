"""``init``: write a starter project (a commented config that runs as it is, and an example
listing it reads) into a folder, so an installed paperdigest is one command from a first digest."""

from __future__ import annotations

import os
from pathlib import Path

import click

from paperdigest import files
from paperdigest.cli.app import guard, main
from paperdigest.errors import ConfigError
from paperdigest.resources import STARTER_DIR

# What ``init`` writes, relative to the target folder, in this order.
STARTER_FILES = ("config/paperdigest.toml", "listings/example.txt")


def write_starter(target: Path) -> list[Path]:
    """Write the starter files into ``target``; refuse before writing anything if one exists."""
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{target}: not a folder")
    taken = [target / name for name in STARTER_FILES if os.path.lexists(target / name)]
    if taken:
        raise ConfigError(f"{taken[0]}: already exists; paperdigest init never overwrites a file "
                          "(choose an empty folder: paperdigest init DIR)")
    written = []
    for name in STARTER_FILES:
        source = STARTER_DIR / name
        try:
            data = source.read_bytes()
        except OSError as e:
            raise ConfigError(f"{source}: the starter files are missing from this installation: {e.strerror}") from None
        path = target / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            files.atomic_write(path, data, overwrite=False)
        except FileExistsError:
            raise ConfigError(f"{path}: already exists; paperdigest init never overwrites a file") from None
        except OSError as e:
            raise ConfigError(f"{path}: cannot write: {e.strerror or e}") from None
        written.append(path)
    return written


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."), required=False)
@guard
def init(directory: Path) -> None:
    """Write a starter project into DIRECTORY (default: the current folder).

    \b
    It holds config/paperdigest.toml (where every command looks for its config),
    commented and ready to run, and listings/example.txt, a small listing that
    config reads. Existing files are never overwritten (exit 2). Then:
      cd DIRECTORY && paperdigest run --without-prefect
    """
    written = write_starter(directory)
    for path in written:
        click.echo(f"wrote {path}")
    config = written[0]
    where = "" if directory.resolve() == Path.cwd().resolve() else f"cd {directory} && "
    click.echo(f"next: {where}paperdigest run --without-prefect   (edit {config.relative_to(directory)} "
               "for your own sources and readers)")
