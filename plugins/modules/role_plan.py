#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

# The work is done by the action plugin of the same name (plugins/action/role_plan.py), on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: role_plan
short_description: Validate a role's variables and plan the role, in one task on the controller
version_added: 1.1.0
description:
  - The first decision of the roles of labops.dlstack that plan (C(nvidia_driver), C(conda), C(pytorch_env));
    every variable of the role is checked by type and by meaning (the rules of the filter
    P(labops.dlstack.role_input_errors#filter)), then what the role's tasks read on the host (O(context)), then
    the role's planner runs on O(plan), and the task fails with the reasons when any refuses. Nothing on the host
    is read or changed; a role registers the result and decides from it.
  - The result says whether the task runs in check mode (RV(check_mode)), which the roles read instead of
    C(ansible_check_mode).
  - One task instead of three (an assert of the input, a C(set_fact) of the plan, an assert of the plan), which a
    re-run of a converged fleet pays on every host.
  - Without O(plan), only the variables are checked (what P(labops.dlstack.role_input_errors#filter) does, with
    the same messages); C(apt_components) and C(cuda_toolkit) validate so, and read RV(check_mode).
author: labops.dlstack maintainers (!UNKNOWN)
options:
  role:
    description: The role whose rules and planner apply.
    type: str
    required: true
    choices: [apt_components, ca_trust, conda, cuda_toolkit, fleet_report, nvidia_driver, nvidia_repo, pytorch_env]
  inputs:
    description:
      - The role's variables, name to value (the names the role documents in its argument_specs).
      - Required unless O(replan) is given; not with it.
    type: dict
  context:
    description:
      - What the host and the controller tell the rules, the keyword arguments of
        P(labops.dlstack.role_input_errors#filter) (C(passwd), C(search_path), C(gpu), C(memtotal_mb), C(platform),
        C(facts), C(inventory_sources), C(missing_files), C(installed_kernels)).
      - C(missing_files) and C(installed_kernels) are what the role's tasks read on the host (for C(nvidia_driver), the
        MOK files not found and the kernel releases under C(/lib/modules), null when not read); what they refuse is
        reported after the variables' own errors (only when there is none) and before the planner's.
    type: dict
    default: {}
  plan:
    description:
      - The planner's arguments; only for C(nvidia_driver) (the arguments of
        P(labops.dlstack.nvidia_driver_plan#filter), with the GPU facts as C(gpu)), C(conda) (C(installer) and
        C(users), the arguments of P(labops.dlstack.conda_installer#filter) and
        P(labops.dlstack.conda_user_plan#filter)) and C(pytorch_env) (those of
        P(labops.dlstack.pytorch_env_plan#filter)).
      - With O(replan), the GPU facts (C(gpu)) and what the host answered since that plan was made, C(available) (what
        C(apt-cache policy) offers, parsed by P(labops.dlstack.nvidia_driver_apt_policy#filter)) and
        C(not_installable) (flavour to apt's refusal, from P(labops.dlstack.nvidia_driver_apt_simulation#filter)).
    type: dict
  replan:
    description:
      - A plan an earlier C(role_plan) task registered for the same host, for C(nvidia_driver) and C(conda). The
        role's variables were checked then, and are not checked again.
      - For C(nvidia_driver) the planner runs again on that plan's RV(inputs) with every answer so far (RV(answers)
        and O(plan)), and the new plan keeps RV(inputs), RV(candidates) and RV(deferred). This is how the role plans
        again with what the configured sources offer (its C(tasks/sources.yml)).
      - For C(conda), O(plan) is C(users) with what changed since (C(passwd), the user database after the role created
        users); each user is planned again and the installer is kept.
    type: dict
attributes:
  action:
    support: full
    description: Runs on the controller; the host is not contacted.
  check_mode:
    support: full
    description: Reads nothing and changes nothing, in check mode the same.
  diff_mode:
    support: none
    description: Reports nothing to diff.
seealso:
  - module: labops.dlstack.converged
"""

EXAMPLES = r"""
- name: Validate every variable of the role and plan it (before anything changes)
  labops.dlstack.role_plan:
    role: pytorch_env
    inputs: "{{ dict(__names | zip(q('ansible.builtin.vars', *__names))) }}"
    context:
      passwd: "{{ ansible_facts['getent_passwd'] }}"
      facts: "{{ ansible_facts }}"
    plan:
      users: "{{ pytorch_env_users }}"
      settings: "{{ __pytorch_env_settings }}"
      gpu_facts: "{{ ansible_facts['dlstack_gpu'] }}"
      getent_passwd: "{{ ansible_facts['getent_passwd'] }}"
  vars:
    __names: "{{ q('ansible.builtin.varnames', '^pytorch_env_') }}"
  register: __pytorch_env_plan

- name: Validate the variables only (no planner); later tasks read check_mode from the registered result
  labops.dlstack.role_plan:
    role: cuda_toolkit
    inputs: "{{ dict(__names | zip(q('ansible.builtin.vars', *__names))) }}"
  vars:
    __names: "{{ q('ansible.builtin.varnames', '^(cuda_toolkit|apt_components|nvidia_repo)_') }}"
  register: __cuda_toolkit_validated

- name: Plan the driver again with what apt offers
  labops.dlstack.role_plan:
    role: nvidia_driver
    replan: "{{ __nvidia_driver_plan }}"
    plan:
      available: "{{ __nvidia_driver_policy.stdout | labops.dlstack.nvidia_driver_apt_policy }}"
  register: __nvidia_driver_plan
"""

RETURN = r"""
check_mode:
  description:
    - Whether the task ran in check mode, as a module's C(check_mode) sees it (C(--check), or C(check_mode) set on the
      task, a block, the play or an include and its C(apply)). C(ansible_check_mode) sees only C(--check).
    - Each role that decides anything from check mode reads it from here (its C(__<role>_check_mode)).
  returned: always
  type: bool
  sample: false
msg:
  description: Why the role refuses (each reason once, joined), when it does.
  returned: failure
  type: str
  sample: "nvidia_driver_branch: 'latest' is not valid; accepted: auto, or a driver branch number such as \"580\""
inputs:
  description:
    - For C(nvidia_driver), the planner's arguments without C(gpu); for C(conda), those of the installer and of the
      users (C(installer), C(users)). The role plans again from them (O(replan)).
  returned: success, roles nvidia_driver and conda
  type: dict
answers:
  description: For C(nvidia_driver), what apt answered that the plan was made again with (empty for a first plan).
  returned: success, role nvidia_driver
  type: dict
candidates:
  description: For C(nvidia_driver), every package a plan for this host may need, to ask C(apt-cache policy) about (empty when the plan installs nothing).
  returned: success, role nvidia_driver
  type: list
  elements: str
deferred:
  description: For C(nvidia_driver), null; the role sets the sentence of a step running GPU work holds back.
  returned: success, role nvidia_driver
  type: str
installer:
  description: For C(conda), where the installer comes from and how it is checked.
  returned: success, role conda
  type: dict
plan:
  description: For C(conda), each user's plan.
  returned: success, role conda
  type: dict
errors:
  description: For C(nvidia_driver) and C(pytorch_env), the plan's refusals (empty on success).
  returned: success, roles nvidia_driver and pytorch_env
  type: list
  elements: str
"""
