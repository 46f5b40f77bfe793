"""Environment variables parsed one way, whichever module reads them.

Switches are ``on``/``off`` everywhere; ``1``/``0``, ``true``/``false`` and
``yes``/``no`` mean the same, so a habit from another tool is not an error.
Numbers are whole unless a setting is a rate or a duration. An empty or unset
variable means the default. A bad value raises one
:class:`~authpulse_dagster.errors.ConfigError` line naming the variable and what
it accepts.
"""

from __future__ import annotations

from typing import Mapping

from authpulse_dagster.errors import ConfigError

ON = ("on", "1", "true", "yes")
OFF = ("off", "0", "false", "no")


def _raw(environ: Mapping[str, str], name: str) -> str:
    return (environ.get(name) or "").strip()


def _show(bound: float) -> str:
    return f"{bound:g}" if isinstance(bound, float) else str(bound)


def _bounded(name: str, value: float, shown: str, minimum: float | None, maximum: float | None) -> None:
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            bound = f"between {_show(minimum)} and {_show(maximum)}"
        elif minimum is not None:
            bound = f"at least {_show(minimum)}"
        else:
            bound = f"at most {_show(maximum)}"
        raise ConfigError(f"{name}={shown} must be {bound}")


def _parsed(environ: Mapping[str, str], name: str, default, convert, minimum, maximum, wanted: str):
    raw = _raw(environ, name)
    if not raw:
        return default
    try:
        value = convert(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {wanted}") from None
    _bounded(name, value, raw, minimum, maximum)
    return value


def integer(environ: Mapping[str, str], name: str, default: int, minimum: int | None = 0, maximum: int | None = None) -> int:
    return _parsed(environ, name, default, int, minimum, maximum, "a whole number; set it to one or unset it")


def number(environ: Mapping[str, str], name: str, default: float, minimum: float | None = None, maximum: float | None = None) -> float:
    return _parsed(environ, name, default, float, minimum, maximum, "a number; set it to a number or unset it")


def switch(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _raw(environ, name).lower()
    if not raw:
        return default
    if raw in ON:
        return True
    if raw in OFF:
        return False
    raise ConfigError(f"{name}={raw!r} must be on or off")
