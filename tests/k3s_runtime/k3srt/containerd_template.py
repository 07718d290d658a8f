"""A small, honest subset of Go text/template for containerd config templates.

Real k3s executes `config-v3.toml.tmpl` / `config.toml.tmpl` as Go templates with its agent config as data. This
test runtime supports exactly:

* `{{ template "base" . }}` — replaced by the stock config of the template's generation;
* comments `{{/* ... */}}`;
* the trim markers `{{- ` and ` -}}` (strip all whitespace before/after the action, as Go does).

Any other action (`{{ .NodeConfig... }}`, `{{ if }}`, pipelines ...) raises ContainerdError instead of being copied
into the generated config, so a test never passes on a config real k3s would have rendered differently.
"""

from __future__ import annotations

import re

from .containerd_util import ContainerdError

_WS = " \t\r\n"
_BASE = re.compile(r'template\s+"base"\s+\.')


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def render_template(text: str, base: str, path: str) -> str:
    """Expand the supported subset of `text`; `base` is the stock config of the same generation."""
    out: list[str] = []
    pos = 0
    trim_next = False
    while True:
        start = text.find("{{", pos)
        literal = text[pos:] if start < 0 else text[pos:start]
        if trim_next:
            literal = literal.lstrip(_WS)
        if start < 0:
            out.append(literal)
            break
        inner = start + 2
        left_trim = text[inner : inner + 1] == "-" and text[inner + 1 : inner + 2] in tuple(_WS)
        if left_trim:
            literal = literal.rstrip(_WS)
            inner += 1
        out.append(literal)
        close_from = inner
        if text[inner:].lstrip(_WS).startswith("/*"):
            comment_end = text.find("*/", inner)
            close_from = comment_end + 2 if comment_end >= 0 else len(text)
        end = text.find("}}", close_from)
        if end < inner:
            raise ContainerdError(
                "failed to parse containerd config template %s: unclosed action at line %d"
                % (path, _line_of(text, start))
            )
        body = text[inner:end]
        trim_next = len(body) >= 2 and body[-1] == "-" and body[-2] in _WS
        if trim_next:
            body = body[:-1]
        action = body.strip(_WS)
        if action.startswith("/*") and action.endswith("*/"):
            pass
        elif _BASE.fullmatch(action):
            out.append(base)
        else:
            raise ContainerdError(
                "failed to render containerd config template %s: unsupported template action %s at line %d "
                '(the k3s test runtime only expands {{ template "base" . }} and comments)'
                % (path, text[start : end + 2], _line_of(text, start))
            )
        pos = end + 2
    return "".join(out)
