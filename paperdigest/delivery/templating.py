"""The Jinja templates every output is rendered from: the built-in ones, and a folder of a
newsletter's own (``[output] templates``) whose files override the built-in ones by name.

A template of the operator's that cannot be compiled or rendered is a configuration problem:
:class:`ConfigError` naming the file and the line (exit code 2), never a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape
from jinja2 import TemplateSyntaxError

from paperdigest.errors import ConfigError, one_line
from paperdigest.resources import builtin_templates


@lru_cache(maxsize=8)
def environment(custom: Path | None = None) -> Environment:
    """The Jinja environment: ``custom`` (if any) first, then the built-in templates.

    ``*.html.j2`` must be listed for autoescape: ``select_autoescape()`` looks at the last
    suffix only and would miss it.
    """
    folders = ([str(custom)] if custom is not None else []) + [str(builtin_templates())]
    return Environment(
        loader=ChoiceLoader([FileSystemLoader(f) for f in folders]),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "xml"),
                                     default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_template(name: str, context: Mapping[str, Any], custom: Path | None = None) -> str:
    """Render one template; a failure in it becomes a one-line :class:`ConfigError` naming the
    template file and line."""
    env = environment(custom)
    try:
        return env.get_template(name).render(context)
    except ConfigError:
        raise
    except Exception as e:  # noqa: BLE001 - any error raised while rendering is the template's
        raise ConfigError(_describe(env, name, e)) from None


def _describe(env: Environment, name: str, err: BaseException) -> str:
    if isinstance(err, TemplateSyntaxError):
        where = f"{err.filename or _source_file(env, err.name or name)}:{err.lineno}"
        return one_line(f"template {where}: {err.message}")
    where = _template_frame(err.__traceback__) or _source_file(env, name)
    reason = err.message if isinstance(err, TemplateError) and err.message else f"{type(err).__name__}: {err}"
    return one_line(f"template {where}: cannot render: {reason}")


def _source_file(env: Environment, name: str) -> str:
    """The file a template name resolves to (the custom one when it overrides)."""
    loader = env.loader
    if isinstance(loader, ChoiceLoader):
        for sub in loader.loaders:
            if isinstance(sub, FileSystemLoader):
                for folder in sub.searchpath:
                    path = os.path.join(folder, *name.split("/"))
                    if os.path.isfile(path):
                        return path
    return name


def _template_frame(tb: TracebackType | None) -> str | None:
    """``file:line`` of the innermost traceback frame that runs template code. Jinja rewrites
    a rendering traceback so that template frames carry the template's file and line."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith(".j2"):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def compile_all(custom: Path) -> None:
    """Compile every template of a custom folder: a syntax error is reported before a run starts."""
    env = environment(custom)
    for path in sorted(custom.rglob("*.j2")):
        if path.is_file():
            try:
                env.get_template(path.relative_to(custom).as_posix())
            except TemplateSyntaxError as e:
                raise ConfigError(one_line(f"template {path}:{e.lineno}: {e.message}")) from None
            except Exception as e:  # noqa: BLE001 - unreadable file, bad encoding
                raise ConfigError(one_line(f"template {path}: cannot load: {type(e).__name__}: {e}")) from None
