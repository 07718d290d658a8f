# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# PRIVATE to the edgefleet.k3s collection. This is not a public API: it may change or disappear in any
# release without notice. Do not import it from other collections or from playbooks.
"""k3s logs through logrus's text format: ``time="…" level=info msg="…"``. One parser for every module."""

from __future__ import annotations

import re

LOGRUS = re.compile(r'level=(?P<level>\w+)\s+msg="(?P<msg>(?:[^"\\]|\\.)*)"')


def line_message(line):
    """(level, message) of a logrus text line; (None, line) for anything else."""
    match = LOGRUS.search(line)
    if not match:
        return None, line.strip()
    return match.group("level"), match.group("msg").replace('\\"', '"')


def messages(text):
    """Every (level, message) of a k3s command's output."""
    return [line_message(line) for line in text.splitlines() if line.strip()]
