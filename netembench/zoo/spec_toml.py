"""A spec's TOML, strictly: text to tables, tables to frozen dataclasses (naming any missing,
unknown or mistyped field), and values back to TOML. `spec.py` says what the tables hold."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class SpecError(ValueError):
    """A spec that cannot be used; the message names the file, the field and the fix."""


def read_toml(text: str, source: str) -> dict[str, Any]:
    """The tables of TOML `text`; `source` names it in errors."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(f"{source}: not valid TOML ({err})") from None


def toml_value(value: Any) -> str:
    """`value` (bool, number, string or list of them) as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def build_dataclass(
    cls: type, table: dict[str, Any], where: str, source: str, parsed: dict[str, Any] | None = None
) -> Any:
    """Instantiate a dataclass from a TOML table, naming any missing, unknown or mistyped field.

    `parsed` holds fields already built from sub-tables; they are passed through as they are.
    """
    parsed = parsed or {}
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in parsed}
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise SpecError(f"{source}: unknown field {unknown[0]!r} in {where} (known: {', '.join(fields)})")
    values = {}
    for name, f in fields.items():
        if name not in table:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SpecError(f"{source}: missing field {name!r} in {where}")
            continue
        values[name] = coerce(table[name], f.type, f"{where}.{name}", source)
    return cls(**values, **parsed)


def coerce(value: Any, annotation: Any, where: str, source: str) -> Any:
    """`value` as the field type `annotation` (int, float, str, tuple of ints), or a SpecError."""
    kind = str(annotation)
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "str": isinstance(value, str),
        "tuple[int, ...]": isinstance(value, list) and all(isinstance(v, int) for v in value),
    }
    if kind not in ok:
        raise TypeError(f"unsupported spec field type {kind}")
    if not ok[kind]:
        raise SpecError(
            f"{source}: field {where} must be {kind.replace('tuple[int, ...]', 'a list of integers')}, got {value!r}"
        )
    return float(value) if kind == "float" else tuple(value) if kind.startswith("tuple") else value
