# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one test-support package of edgefleet.k3s: the lab client, the playbook runner and recap parsing.

Every test folder imports from here (pyproject's pytest ``pythonpath`` puts ``tests/`` on sys.path); there is no
other wrapper of the lab CLI or of ansible-playbook.
"""

from __future__ import annotations

from edgefleet_testing.ansible import Run, adhoc, ansible_env, flat, playbook, recap
from edgefleet_testing.inventories import UNREACHABLE, make_inventory
from edgefleet_testing.lab import Lab
from edgefleet_testing.paths import NEXT_VERSION, RELEASES, ROOT, VERSION, VERSIONS, build_releases

__all__ = [
    "NEXT_VERSION",
    "RELEASES",
    "ROOT",
    "VERSION",
    "VERSIONS",
    "Lab",
    "Run",
    "UNREACHABLE",
    "adhoc",
    "ansible_env",
    "build_releases",
    "flat",
    "make_inventory",
    "playbook",
    "recap",
]
