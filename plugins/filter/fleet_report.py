# -*- coding: utf-8 -*-
# Copyright: labops.dlstack contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn per-host probe and verification facts into the rows of the fleet report."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

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


def _row(host, facts, gpu, torch_results, problems=()):
    driver = facts.get('driver') or {}
    torch = facts.get('torch') or {}
    status = facts.get('status', 'unknown')
    failed_torch = any(not c.get('ok', False) for c in torch_results)
    return {
        'host': host,
        'simulated': facts.get('source') == 'recorded',
        'status': status,
        'severity': 'error' if (problems or failed_torch) else _SEVERITY.get(status, 'error'),
        'problems': list(problems),
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
    }


# The problem a row gets when the run stopped on its host before the report (finished_hosts).
NOT_FINISHED = 'this run did not finish on this host (it failed or became unreachable); the row shows its last probe'


def fleet_report_rows(hostvars, hosts, facts_key='dlstack_gpu', torch_key='pytorch_env_results', problems_key='dlstack_verify_problems',
                      finished_hosts=None):
    """One row per host and GPU (one row for a host without GPUs), sorted by host then GPU index.

    ``hostvars`` is Ansible's hostvars, ``hosts`` the hosts to report. A host whose probe facts are
    missing (unreachable, failed before the probe) gets a row with status ``unreachable``.
    ``torch_key`` names the per-host list of torch verification results (user, env, ok...), if any;
    ``problems_key`` the per-host list of problems a verification found (playbooks/verify.yml).
    A row with problems or a failed torch check is an error whatever the probe status.
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
        if finished_hosts is not None and host not in finished_hosts:
            problems.insert(0, NOT_FINISHED)
        if not facts:
            rows.append(_row(host, {'status': 'unreachable',
                                    'message': 'No probe facts: the host was unreachable or failed before the GPU probe ran.'},
                             None, torch_results, problems))
            continue
        gpus = facts.get('gpus') or []
        if not gpus:
            rows.append(_row(host, facts, None, torch_results, problems))
        for gpu in sorted(gpus, key=lambda g: g.get('index') or 0):
            rows.append(_row(host, facts, gpu, torch_results, problems))
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
    return {
        'hosts': len(hosts),
        'gpus': sum(1 for r in rows if r['gpu_name']),
        'by_status': dict(sorted(by_status.items())),
        'simulated_hosts': sorted({r['host'] for r in rows if r['simulated']}),
        'hosts_needing_action': sorted({r['host'] for r in rows if r['severity'] in ('warn', 'error')}),
        'torch_checks': len(torch_checks),
        'torch_checks_failed': sum(1 for c in torch_checks if not c.get('ok', False)),
    }


def fleet_report_lines(rows):
    """Short terminal summary: a header line, then one line per row; simulated hosts are labelled."""
    summary = fleet_report_summary(rows)
    head = '%d host(s), %d GPU(s): %s' % (
        summary['hosts'], summary['gpus'], ', '.join('%s=%d' % kv for kv in summary['by_status'].items()))
    if summary['simulated_hosts']:
        head += ' [SIMULATED hardware: %s]' % ', '.join(summary['simulated_hosts'])
    if summary['torch_checks']:
        head += '; torch checks: %d, failed: %d' % (summary['torch_checks'], summary['torch_checks_failed'])
    lines = [head]
    for r in rows:
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
        elif r['severity'] in ('warn', 'error'):
            line += ' -> ' + r['message']
        lines.append(line)
    return lines


class FilterModule(object):
    def filters(self):
        return {
            'fleet_report_rows': fleet_report_rows,
            'fleet_report_summary': fleet_report_summary,
            'fleet_report_lines': fleet_report_lines,
        }
