# -*- coding: utf-8 -*-
# Copyright: labops.dlstack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn per-host probe and verification facts into the rows of the fleet report."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.labops.dlstack.plugins.plugin_utils._lazy import LazyModule

_validate = LazyModule('_validate')

# Status -> severity shown in the report. ok: nothing to do; warn: works, something to look at;
# error: the host cannot run GPU work until someone acts.
_SEVERITY = {
    'ok': 'ok',
    'no_gpu': 'info',
    'driver_not_installed': 'warn',
    'driver_not_loaded': 'warn',
    'nouveau_bound': 'warn',
    'no_device_access': 'warn',
    'driver_library_mismatch': 'error',
    'gpu_unsupported_by_driver': 'error',
    'unreachable': 'error',
}


def _users(torch_results, conda_results):
    """Per user of the host: their conda (or None) and their environments, sorted by user name."""
    names = sorted({item.get('user') for item in list(conda_results) + list(torch_results) if item.get('user')})
    return [{'user': name,
             'conda': next((c for c in conda_results if c.get('user') == name), None),
             'envs': [e for e in torch_results if e.get('user') == name]} for name in names]


def _variant_notes(torch_results):
    """'alice/torch, bob/torch: <why>' per distinct note: K users with the same layer say it once."""
    grouped = {}
    for check in torch_results:
        if check.get('variant_note'):
            grouped.setdefault(check['variant_note'], []).append('%s/%s' % (check.get('user'), check.get('env')))
    return ['%s: %s' % (', '.join(envs), note) for note, envs in grouped.items()]


def _installed_variants(torch_results, recommended):
    """The variants installed on the host that are not the recommended one, sorted."""
    return sorted({c['variant'] for c in torch_results if c.get('variant') and c.get('variant_note')
                   and c['variant'] != recommended})


def _severity(status, problems, torch_results, variant_notes):
    if problems or any(not c.get('ok', False) for c in torch_results):
        return 'error'
    severity = _SEVERITY.get(status, 'error')
    # an environment that works, but not with the variant the probe recommends (a GPU left unused): look at it
    if variant_notes and severity in ('ok', 'info'):
        return 'warn'
    return severity


def _deferred(driver_result):
    """The sentence of a driver step held back by running GPU work (nvidia_driver_result.deferred), or ''."""
    if isinstance(driver_result, dict) and driver_result.get('deferred'):
        return str(driver_result['deferred'])
    return ''


def _row(host, facts, gpu, torch_results, problems=(), conda_results=(), deferred=''):
    driver = facts.get('driver') or {}
    torch = facts.get('torch') or {}
    status = facts.get('status', 'unknown')
    variant_notes = _variant_notes(torch_results)
    return {
        'host': host,
        'simulated': facts.get('source') == 'recorded',
        'status': status,
        'severity': _severity(status, problems, torch_results, variant_notes),
        'problems': list(problems),
        'variant_notes': variant_notes,
        'other_variants': _installed_variants(torch_results, torch.get('recommended_variant', '')),
        'message': facts.get('message', ''),
        'in_container': bool(facts.get('in_container', False)),
        'gpu_index': gpu.get('index') if gpu else None,
        'gpu_name': gpu.get('name', '') if gpu else '',
        'pci_device_id': gpu.get('pci_device_id', '') if gpu else '',
        'architecture': gpu.get('architecture', '') if gpu else '',
        'compute_capability': gpu.get('compute_capability', '') if gpu else '',
        'memory_total_mib': gpu.get('memory_total_mib') if gpu else None,
        'mig_mode': gpu.get('mig_mode', '') if gpu else '',
        'driver_version': driver.get('version') or '',
        'kernel_module': driver.get('kernel_module') or '',
        'cuda_version': driver.get('cuda_version') or '',
        'recommended_variant': torch.get('recommended_variant', ''),
        'torch_version': torch.get('torch_version', ''),
        'torch_checks': torch_results,
        'users': _users(torch_results, conda_results),
        'conda_stand_in': any(c.get('stand_in') for c in conda_results),
        # a state of its own, not a failure: the driver role held a step back for running GPU jobs
        'driver_deferred': deferred,
    }


# The problem a row gets when the run stopped on its host before the report (finished_hosts).
NOT_FINISHED = 'this run did not finish on this host (it failed or became unreachable); the row shows its last probe'


def fleet_report_rows(hostvars, hosts, facts_key='dlstack_gpu', torch_key='pytorch_env_results', problems_key='dlstack_verify_problems',
                      conda_key='conda_results', driver_key='nvidia_driver_result', finished_hosts=None):
    """One row per host and GPU (one row for a host without GPUs), sorted by host then GPU index.

    ``hostvars`` is Ansible's hostvars, ``hosts`` the hosts to report. A host whose probe facts are
    missing (unreachable, failed before the probe) gets a row with status ``unreachable``.
    ``torch_key`` names the per-host list of torch verification results (user, env, ok...), if any;
    ``problems_key`` the per-host list of problems a verification found (playbooks/verify.yml);
    ``conda_key`` the per-host list of the users' conda installations (the conda role's verify).
    A row with problems or a failed torch check is an error whatever the probe status; a row whose
    environments work but with another variant than the probe recommends is at least a warning.
    Each row carries ``users``: per user, their conda (prefix, owner, version, stand-in or not) and
    their environments (variant, the probe's recommendation, the checks).
    ``driver_key`` names the nvidia_driver role's result: its ``deferred`` sentence (a driver change or
    reboot held back by running GPU jobs) shows in ``driver_deferred``, which changes no severity.
    ``finished_hosts`` (ansible_play_hosts of the report's play), when given: the hosts the run is still
    going on; any other host of ``hosts`` gets the problem NOT_FINISHED (a host that died mid-run keeps
    the facts of its first probe, which alone would not tell).
    """
    if isinstance(hosts, str):
        raise AnsibleFilterError('fleet_report_rows: hosts must be a list of host names, got a string')
    rows = []
    for host in sorted(hosts):
        hv = hostvars.get(host) or {}
        facts = (hv.get('ansible_facts') or {}).get(facts_key) or hv.get(facts_key)
        torch_results = list(hv.get(torch_key) or [])
        problems = list(hv.get(problems_key) or [])
        conda_results = list(hv.get(conda_key) or [])
        deferred = _deferred(hv.get(driver_key))
        if finished_hosts is not None and host not in finished_hosts:
            problems.insert(0, NOT_FINISHED)
        if not facts:
            rows.append(_row(host, {'status': 'unreachable',
                                    'message': 'No probe facts: the host was unreachable or failed before the GPU probe ran.'},
                             None, torch_results, problems, conda_results, deferred))
            continue
        gpus = facts.get('gpus') or []
        if not gpus:
            rows.append(_row(host, facts, None, torch_results, problems, conda_results, deferred))
        for gpu in sorted(gpus, key=lambda g: g.get('index') or 0):
            rows.append(_row(host, facts, gpu, torch_results, problems, conda_results, deferred))
    return rows


def fleet_report_summary(rows):
    """Counts for the report's header: hosts, GPUs, hosts per status, simulated hosts."""
    hosts = sorted({r['host'] for r in rows})
    by_status = {}
    seen = set()
    for r in rows:
        if r['host'] in seen:
            continue
        seen.add(r['host'])
        by_status[r['status']] = by_status.get(r['status'], 0) + 1
    torch_checks = [c for h in hosts for c in next(r['torch_checks'] for r in rows if r['host'] == h)]
    users = [u for h in hosts for u in next(r.get('users') or [] for r in rows if r['host'] == h)]
    return {
        'hosts': len(hosts),
        'gpus': sum(1 for r in rows if r['gpu_name']),
        'by_status': dict(sorted(by_status.items())),
        'simulated_hosts': sorted({r['host'] for r in rows if r['simulated']}),
        'hosts_needing_action': sorted({r['host'] for r in rows if r['severity'] in ('warn', 'error')}),
        'deferred_hosts': sorted({r['host'] for r in rows if r.get('driver_deferred')}),
        'torch_checks': len(torch_checks),
        'torch_checks_failed': sum(1 for c in torch_checks if not c.get('ok', False)),
        'variant_differs': sum(1 for c in torch_checks if c.get('variant_note')),
        'conda_users': sum(1 for u in users if u.get('conda')),
        'conda_stand_in_hosts': sorted({r['host'] for r in rows if r.get('conda_stand_in')}),
    }


def fleet_report_lines(rows):
    """Short terminal summary: a header line, then one line per row; simulated hosts are labelled."""
    summary = fleet_report_summary(rows)
    head = '%d host(s), %d GPU(s): %s' % (
        summary['hosts'], summary['gpus'], ', '.join('%s=%d' % kv for kv in summary['by_status'].items()))
    if summary['simulated_hosts']:
        head += ' [SIMULATED hardware: %s]' % ', '.join(summary['simulated_hosts'])
    if summary['conda_stand_in_hosts']:
        head += ' [SIMULATED conda: stand-in installer on %s]' % ', '.join(summary['conda_stand_in_hosts'])
    if summary['torch_checks']:
        head += '; torch checks: %d, failed: %d' % (summary['torch_checks'], summary['torch_checks_failed'])
    if summary['variant_differs']:
        head += ', not the recommended variant: %d' % summary['variant_differs']
    if summary['deferred_hosts']:
        head += '; driver deferred for running jobs: %s' % ', '.join(summary['deferred_hosts'])
    lines = [head]
    for index, r in enumerate(rows):
        gpu = r['gpu_name'] or 'no NVIDIA GPU'
        if r['gpu_name']:
            gpu += ' (%s, %s)' % (r['architecture'] or '?', r['compute_capability'] or '?')
        driver = r['driver_version'] or 'no driver'
        if r['kernel_module']:
            driver += ' ' + r['kernel_module']
        line = '%s%s: %s; %s; %s; torch %s' % (
            r['host'], ' [SIMULATED]' if r['simulated'] else '', r['status'], gpu, driver,
            r['recommended_variant'] or '-')
        failed = ['%s/%s: %s' % (c.get('user'), c.get('env'), c.get('message') or 'failed')
                  for c in r['torch_checks'] if not c.get('ok', False)]
        if r['problems'] or failed:
            line += ' -> ' + '; '.join(r['problems'] + failed)
        elif r.get('variant_notes'):
            line += ' -> ' + '; '.join(([r['message']] if r['message'] and r['severity'] != 'ok' and
                                        _SEVERITY.get(r['status']) in ('warn', 'error') else []) + r['variant_notes'])
        elif r['severity'] in ('warn', 'error'):
            line += ' -> ' + r['message']
        if r.get('driver_deferred'):
            line += ' -> driver ' + r['driver_deferred']
        lines.append(line)
        if index + 1 == len(rows) or rows[index + 1]['host'] != r['host']:  # the host's users, once
            lines.extend('  ' + user_line(u) for u in r.get('users') or [])
    return lines


def _conda_text(conda):
    if not conda:
        return 'no conda from labops.dlstack'
    text = 'conda %s (owner %s, %s %s, conda %s)' % (
        conda.get('prefix'), conda.get('owner'), conda.get('distribution') or '?', conda.get('version') or '?',
        conda.get('conda_version') or '?')
    if conda.get('stand_in'):
        text += ' [SIMULATED: conda: stand-in installer]'
    if not conda.get('ok', True):
        text += ' FAILED: ' + (conda.get('message') or '')
    return text


def _env_text(env):
    variant = env.get('variant') or '?'
    if env.get('recommended_variant') and env['recommended_variant'] != variant:
        variant += ', probe recommends %s' % env['recommended_variant']
    checks = []
    numpy = env.get('numpy') or {}
    if numpy.get('ok'):
        checks.append('NumPy %s' % numpy.get('version'))
    elif numpy.get('missing') and not env.get('numpy_expected', True):
        checks.append('no NumPy (left out)')
    elif numpy:
        checks.append('NumPy FAILED')
    for name in ('autograd', 'matmul'):
        check = env.get(name) or {}
        if check:
            checks.append('%s %s' % (name, 'ok' if check.get('ok') else 'FAILED'))
    text = 'env %s: torch %s (%s)' % (env.get('env'), env.get('torch_version') or '?', variant)
    if checks:
        text += ', ' + ', '.join(checks)
    text += ', CUDA %s' % ('yes' if env.get('cuda_available') else 'no')
    return text + ('' if env.get('ok', False) else ' FAILED')


def user_line(user):
    """One terminal line per user: their conda, then each environment with its variant and checks."""
    return '%s: %s' % (user.get('user'), '; '.join([_conda_text(user.get('conda'))] +
                                                   [_env_text(e) for e in user.get('envs') or []]))


def report_dir_problem(report_dir, inventory_sources, variable='fleet_report_dir'):
    """Why the controller directory ``report_dir`` must not receive reports, or '' when it may (the check lives in
    plugins/module_utils/_validate.py, where the roles' validation uses it too)."""
    return _validate.report_dir_problem(report_dir, inventory_sources, variable)


class FilterModule(object):
    def filters(self):
        return {
            'fleet_report_rows': fleet_report_rows,
            'fleet_report_summary': fleet_report_summary,
            'fleet_report_lines': fleet_report_lines,
            'report_dir_problem': report_dir_problem,
        }
