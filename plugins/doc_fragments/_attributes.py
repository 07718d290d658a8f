# Copyright (c) edgefleet.k3s contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Private to the edgefleet.k3s collection: only its own modules should extend these fragments.

from __future__ import annotations


class ModuleDocFragment:
    # Shared description of the attributes every edgefleet.k3s module declares.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""

    # The module only reads and never changes anything.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module never changes anything, so it runs the same way in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
"""

    # The module belongs to the edgefleet.k3s.k3s action group.
    ACTION_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/edgefleet.k3s.k3s) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - edgefleet.k3s.k3s
"""

    # The module belongs to the edgefleet.k3s.k3s_api action group (modules that read the cluster's API).
    API_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/edgefleet.k3s.k3s_api) in C(module_defaults) to set O(kubeconfig) or O(timeout) once.
    support: full
    membership:
      - edgefleet.k3s.k3s_api
"""
