# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verdicts of tests/gpu/reference-host.sh: one subcommand per step, reading what the step wrote.

    python3 tests/gpu/judge.py STEP [--rehearsal] ARGS...

Prints the findings (one line per check, '  ok'/'  FAIL'), then a last line, the step's one-line
detail for the summary. Exit status: 0 PASS; 1 FAIL; 2 REHEARSED (the rehearsal's stand-in for the
GPU-specific part behaved as it must without a GPU; the real host has to prove that part).
Standard library only, except `verify`, which renders the fleet report's summary line with the
collection's own filter (run it with the Python that has ansible-core).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

RECAP_RE = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)\s+'
                      r'skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)')
PASS, FAIL, REHEARSED = 0, 1, 2
# what the fleet report says of the rehearsal's CPU stand-in torch on the recorded H200 (plugins/module_utils/_pytorch_env.py)
STANDIN_VARIANT_NOTE = 'cpu build installed where the probe recommends cu130'


class Verdict:
    """Collects checks; the step passes when every check does."""

    def __init__(self):
        self.failed = []
        self.stood_in = []

    def check(self, what, cond, got=None):
        line = '  %s %s' % ('ok  ' if cond else 'FAIL', what)
        if got is not None and not cond:
            line += ' (got %r)' % (got,)
        print(line)
        if not cond:
            self.failed.append(what)
        return cond

    def stand_in(self, what):
        print('  REHEARSAL %s' % what)
        self.stood_in.append(what)

    def finish(self, detail):
        if self.failed:
            print('FAIL: %s; failed: %s' % (detail, '; '.join(self.failed)))
            return FAIL
        if self.stood_in:
            print('%s [rehearsal stand-in: %s]' % (detail, '; '.join(self.stood_in)))
            return REHEARSED
        print(detail)
        return PASS


def load(path):
    try:
        with open(path, encoding='utf-8') as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        print('  FAIL cannot read %s: %s' % (path, exc))
        return None


def recap(log):
    """{'ok', 'changed', 'failed', 'unreachable', 'rescued', ...} of the last PLAY RECAP line, or None."""
    found = None
    try:
        with open(log, encoding='utf-8', errors='replace') as handle:
            for line in handle:
                match = RECAP_RE.match(line.strip())
                if match:
                    keys = ('ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored')
                    found = dict(zip(keys, (int(g) for g in match.groups()[1:])))
    except OSError:
        return None
    return found


def recap_clean(rc):
    """The PLAY RECAP rc says failed=0 and unreachable=0."""
    return rc is not None and rc['failed'] == 0 and rc['unreachable'] == 0


def recap_text(rc):
    if rc is None:
        return 'no PLAY RECAP'
    return 'ok=%(ok)d changed=%(changed)d failed=%(failed)d' % rc


def adhoc_facts(path):
    """ansible_facts.dlstack_gpu from `ansible localhost -m labops.dlstack.gpu_facts --tree DIR` (DIR/localhost)."""
    data = load(path)
    return (data.get('ansible_facts') or {}).get('dlstack_gpu') if isinstance(data, dict) else None


def played_and_reported(v, args, label):
    """Check (as `label`) that the play of args.log ended with failed=0 and unreachable=0, and that the HTML report
    args.html was written; (the recap, the JSON report args.json or {})."""
    rc = recap(args.log)
    v.check(label, recap_clean(rc), recap_text(rc))
    report = load(args.json) or {}
    v.check('HTML written', os.path.isfile(args.html) and os.path.getsize(args.html) > 0)
    return rc, report


# --------------------------------------------------------------------------------------------------

def step_facts(args):
    """1: the live probe, against nvidia-smi's own answer, and the bench's live row."""
    v = Verdict()
    gpu = adhoc_facts(args.facts) or {}
    smi = [f.strip() for f in (args.smi or '').split(',')]
    v.check('gpu_facts status ok', gpu.get('status') == 'ok', gpu.get('status'))
    v.check('source %s' % ('recorded' if args.rehearsal else 'live'),
            gpu.get('source') == ('recorded' if args.rehearsal else 'live'), gpu.get('source'))
    gpus = gpu.get('gpus') or []
    first = gpus[0] if gpus else {}
    driver = gpu.get('driver') or {}
    torch = gpu.get('torch') or {}
    v.check('one GPU', len(gpus) == 1, len(gpus))
    if len(smi) >= 3:
        v.check('name as nvidia-smi says (%s)' % smi[0], first.get('name') == smi[0], first.get('name'))
        v.check('compute capability as nvidia-smi says (%s)' % smi[1], first.get('compute_capability') == smi[1],
                first.get('compute_capability'))
        v.check('driver as nvidia-smi says (%s)' % smi[2], driver.get('version') == smi[2], driver.get('version'))
    else:
        v.check('nvidia-smi answered --query-gpu=name,compute_cap,driver_version', False, args.smi)
    if args.expect_variant:
        v.check('recommended variant %s (the preinstalled torch\'s)' % args.expect_variant,
                torch.get('recommended_variant') == args.expect_variant, torch.get('recommended_variant'))
    bench = load(args.bench) if args.bench else None
    live = None
    if bench:
        live = next((r for r in bench.get('rows', []) if r['what'].startswith('probe() live')), None)
        v.check('bench live row', live is not None)
        if args.rehearsal:
            v.stand_in('the bench\'s live row probes the rehearsal container (no GPU, no nvidia-smi), not an H200')
    detail = '%s, cc %s, %s, driver %s %s, CUDA %s, recommended %s (torch %s); in_container %s; module %.2f s' % (
        first.get('name'), first.get('compute_capability'), first.get('architecture'), driver.get('version'),
        driver.get('kernel_module'), driver.get('cuda_version'), torch.get('recommended_variant'),
        torch.get('torch_version'), gpu.get('in_container'), args.seconds)
    if live:
        detail += '; bench: %s %.4f s (%.2f x ping)' % (live['what'], live['seconds'], live['ratio_to_ping'])
    if args.rehearsal:
        v.stand_in('recorded H200 (tests/unit/tools/gpu_profile.py h200) and its replayed nvidia-smi')
    return v.finish(detail)


def step_report(args):
    """2: gpu_report.yml wrote JSON and HTML with this host's row."""
    v = Verdict()
    rc, report = played_and_reported(v, args, 'play recap failed=0')
    rows = report.get('rows') or []
    v.check('one row', len(rows) == 1, len(rows))
    row = rows[0] if rows else {}
    v.check('row status ok', row.get('status') == 'ok', row.get('status'))
    v.check('row severity ok', row.get('severity') == 'ok', row.get('severity'))
    v.check('row %s' % ('SIMULATED' if args.rehearsal else 'not simulated'), bool(row.get('simulated')) == args.rehearsal)
    if args.rehearsal:
        v.stand_in('the row is the recorded H200, marked SIMULATED')
    return v.finish('%s: %s %s (%s), driver %s, torch %s; %s' % (
        row.get('host'), row.get('status'), row.get('gpu_name'), row.get('compute_capability'),
        row.get('driver_version'), row.get('recommended_variant'), recap_text(rc)))


def step_driver(args):
    """3: nvidia_driver finds the driver satisfying and changes nothing, in check mode and for real."""
    v = Verdict()
    parts = []
    for label, log, proof in (('check', args.check_log, args.check_proof), ('real', args.log, args.proof)):
        if not log:
            v.check('%s run done' % label, False, 'not run: %s' % (args.why_not or 'check run did not pass'))
            continue
        rc = recap(log)
        result = ((load(proof) or {}).get('nvidia_driver_result') or {})
        failure = (load(proof) or {}).get('failure')
        v.check('%s run: failed=0' % label, recap_clean(rc), (failure or {}).get('msg') or recap_text(rc))
        v.check('%s run: changed=0' % label, rc is not None and rc['changed'] == 0, recap_text(rc))
        v.check('%s run: action satisfied' % label, result.get('action') == 'satisfied', result.get('action'))
        v.check('%s run: host mode (not a container)' % label, result.get('mode') == 'host', result.get('mode'))
        parts.append('%s: %s (%s) %s' % (label, result.get('action'), result.get('mode'), recap_text(rc)))
        if label == 'real':
            parts.append('; '.join(result.get('notes') or []))
    if args.rehearsal:
        v.stand_in('the driver is the recorded H200\'s (loaded 580.159.04 open, replayed nvidia-smi), laid out as a host, '
                   'not a container')
    return v.finish('; '.join(p for p in parts if p))


def step_cuda(args):
    """4: cuda_toolkit finds CUDA 13.0 in /usr/local/cuda-13.0, installs nothing, compiles for the GPU and runs."""
    v = Verdict()
    parts = []
    runs = [('check', args.check_log, args.check_proof), ('real', args.log, args.proof),
            ('again', args.again_log, args.again_proof)]
    compiled_lines = []
    for label, log, proof in runs:
        rc = recap(log)
        data = load(proof) or {}
        plan = data.get('__cuda_toolkit_plan') or {}
        failure = data.get('failure')
        toolkit = (plan.get('toolkits') or [{}])[0]
        installed = parse_dpkg(((data.get('__cuda_toolkit_dpkg') or {}).get('stdout')) or '')
        missing = [p for p in plan.get('packages') or [] if p not in installed]
        compiled = data.get('__cuda_toolkit_compiled') or {}
        lines = [line for r in compiled.get('results') or [] for line in (r.get('stdout_lines') or [])]
        v.check('%s: plan has no errors' % label, plan.get('errors') == [], plan.get('errors'))
        v.check('%s: CUDA %s found in %s, not to install' % (label, args.version, args.home),
                toolkit.get('version') == args.version and toolkit.get('home') == args.home and toolkit.get('install') is False,
                {k: toolkit.get(k) for k in ('version', 'home', 'install')})
        v.check('%s: no package to install (apt not run)' % label, missing == [], missing)
        v.check('%s: no repository needed' % label, plan.get('needs_repo') is False, plan.get('needs_repo'))
        if label == 'check':
            # a first check run may report the profile script and test program it would write: changes allowed
            v.check('check: failed=0', recap_clean(rc), recap_text(rc))
            parts.append('check %s' % recap_text(rc))
            continue
        compile_ok = any(line == 'compiled with CUDA %s for -arch=sm_%s' % (args.version, args.sm) for line in lines)
        v.check('%s: compiled with CUDA %s for -arch=sm_%s' % (label, args.version, args.sm), compile_ok, lines)
        ran = [line for line in lines if line.startswith('vector_add:')]
        if args.rehearsal:
            v.check('%s: the run fails only for want of a GPU' % label,
                    failure is not None and 'compile' in (failure.get('task') or '').lower() and
                    any(line.startswith('vector_add: FAIL cudaMalloc') for line in lines), failure and failure.get('task'))
        else:
            v.check('%s: failed=0' % label, rc is not None and rc['failed'] == 0, (failure or {}).get('msg') or recap_text(rc))
            v.check('%s: the kernel ran on the GPU: %s' % (label, args.gpu_name),
                    any(line.startswith('vector_add: PASS') and ('on %s (sm_%s)' % (args.gpu_name, args.sm)) in line
                        for line in lines), ran)
        if label == 'again':
            v.check('again: changed=0', rc is not None and rc['changed'] == 0, recap_text(rc))
        parts.append('%s %s' % (label, recap_text(rc)))
        if label == 'real':
            compiled_lines = lines
    if args.rehearsal:
        v.stand_in('CUDA 13.0 in %s is NVIDIA\'s nvcc/cudart 13.0 from PyPI wheels, not the cuda-toolkit-13-0 packages; '
                   'the compile is real, the run cannot be (no GPU)' % args.home)
    return v.finish('%s; %s' % (' | '.join(compiled_lines) or 'no compile output', ', '.join(parts)))


def parse_dpkg(text):
    states = ('installed', 'half-configured', 'unpacked', 'half-installed', 'triggers-awaited', 'triggers-pending')
    out = {}
    for line in text.splitlines():
        fields = line.split('\t')
        if len(fields) == 3 and fields[0] in states:
            out[fields[1]] = fields[2]
    return out


def step_torch(args):
    """5: molecule/gpu's converge as the lab user: the environment sees the GPU, twice, second run changed=0."""
    v = Verdict()
    rc1, rc2 = recap(args.log), recap(args.again_log)
    v.check('converge: failed=0', recap_clean(rc1), recap_text(rc1))
    v.check('idempotence: changed=0 failed=0', rc2 is not None and rc2['failed'] == 0 and rc2['changed'] == 0, recap_text(rc2))
    report = load(args.report) or {}
    envs = report.get('envs') or []
    env = envs[0] if envs else {}
    v.check('report ok', report.get('ok') is True, report.get('summary'))
    v.check('environment of %s' % args.user, env.get('user') == args.user, env.get('user'))
    home = os.path.expanduser('~%s' % args.user)
    path = env.get('path') or ''
    v.check('environment in %s' % home, path.startswith(home + '/'), path)
    try:
        st = os.stat(path)
        owner_ok = st.st_uid == args.uid
    except OSError:
        st, owner_ok = None, False
    v.check('environment owned by uid %d' % args.uid, owner_ok, st and st.st_uid)
    v.check('layered on %s' % args.site_packages, (env.get('torch_location') or '').startswith(args.site_packages),
            env.get('torch_location'))
    matmul = env.get('matmul') or {}
    # further checks of the verification (NumPy, autograd, ...): any entry {'ok': ...} of the env's
    # record, or of a 'checks' dict in it, besides the matmul
    candidates = dict(env, **(env.get('checks') if isinstance(env.get('checks'), dict) else {}))
    extra = dict((k, val) for k, val in candidates.items() if isinstance(val, dict) and 'ok' in val and k != 'matmul')
    if args.rehearsal:
        v.check('torch.cuda.is_available() False (CPU build)', env.get('cuda_available') is False, env.get('cuda_available'))
        v.check('matmul on cpu ok', matmul.get('ok') is True and matmul.get('device') == 'cpu', matmul)
        v.stand_in('torch is the offline wheelhouse\'s CPU build in /opt/torch/.venv (variant cpu, CUDA not required): '
                   'torch.cuda.is_available() True, the device name and cuda:0 are what the real host proves')
    else:
        v.check('torch.cuda.is_available() True', env.get('cuda_available') is True, env.get('cuda_available'))
        v.check('device %s' % args.gpu_name, args.gpu_name in (env.get('devices') or []), env.get('devices'))
        v.check('matmul on cuda:0 ok', matmul.get('ok') is True and matmul.get('device') == 'cuda:0', matmul)
    for name, val in sorted(extra.items()):
        v.check('%s check ok (%s)' % (name, val.get('device', '')), val.get('ok') is True, val)
    return v.finish('%s; torch %s; cuda_available %s on %s; matmul %s on %s%s; %s / %s' % (
        env.get('message') or 'no environment verified', env.get('torch_version'), env.get('cuda_available'),
        ', '.join(env.get('devices') or []) or '-', 'ok' if matmul.get('ok') else 'FAILED', matmul.get('device'),
        ''.join('; %s %s' % (k, 'ok' if val.get('ok') else 'FAILED') for k, val in sorted(extra.items())),
        recap_text(rc1), recap_text(rc2)))


def step_verify(args):
    """6: verify.yml's fleet report with this host green."""
    v = Verdict()
    rc, report = played_and_reported(v, args, 'verify: failed=0')
    rows = report.get('rows') or []
    summary = report.get('summary') or {}
    v.check('one host, status ok', summary.get('hosts') == 1 and summary.get('by_status') == {'ok': 1},
            summary.get('by_status'))
    v.check('torch checks passed', summary.get('torch_checks', 0) >= 1 and summary.get('torch_checks_failed') == 0,
            (summary.get('torch_checks'), summary.get('torch_checks_failed')))
    if args.rehearsal:
        # The stand-in torch is the CPU build, set explicitly, on the recorded H200: the report rightly says that is
        # not the variant the probe recommends (a warning, the host "needs action"). That note, and only it, is the
        # stand-in's; on the real host the torch is cu130 and the checks below the else hold.
        standin = [r for r in rows if not r.get('problems') and r.get('severity') == 'warn' and r.get('variant_notes')
                   and all(STANDIN_VARIANT_NOTE in note for note in r['variant_notes'])]
        green = bool(rows) and all(r in standin or (r.get('severity') == 'ok' and not r.get('problems')) for r in rows)
        v.check('row green but for the stand-in\'s CPU build (no problems, no other note)', green,
                [(r.get('severity'), r.get('problems'), r.get('variant_notes')) for r in rows])
        v.check('no host needs action but for the stand-in\'s CPU build',
                set(summary.get('hosts_needing_action') or []) <= set(r.get('host') for r in standin),
                summary.get('hosts_needing_action'))
        v.stand_in('the host is the recorded H200 (SIMULATED in the report), its torch check the CPU stand-in (the report '
                   'notes the cpu build where the probe recommends cu130)')
    else:
        v.check('no host needs action', summary.get('hosts_needing_action') == [], summary.get('hosts_needing_action'))
        green = bool(rows) and all(r.get('severity') == 'ok' and not r.get('problems') for r in rows)
        v.check('row green (severity ok, no problems)', green, [r.get('problems') for r in rows])
    line = summary_line(rows)
    return v.finish('%s; %s' % (line, recap_text(rc)))


def summary_line(rows):
    try:
        from ansible_collections.labops.dlstack.plugins.filter.fleet_report import fleet_report_lines
        return ' | '.join(fleet_report_lines(rows)) if rows else 'no rows'
    except ImportError as exc:
        return 'summary line not rendered (%s)' % exc


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument('step', choices=['facts', 'report', 'driver', 'cuda', 'torch', 'verify'])
    parser.add_argument('--rehearsal', action='store_true')
    for opt in ('facts', 'smi', 'bench', 'expect-variant', 'log', 'json', 'html', 'proof', 'check-log', 'check-proof',
                'again-log', 'again-proof', 'why-not', 'version', 'home', 'sm', 'gpu-name', 'report', 'user',
                'site-packages'):
        parser.add_argument('--' + opt, default='')
    parser.add_argument('--seconds', type=float, default=0.0)
    parser.add_argument('--uid', type=int, default=1000)
    args = parser.parse_args(argv)
    return {'facts': step_facts, 'report': step_report, 'driver': step_driver, 'cuda': step_cuda,
            'torch': step_torch, 'verify': step_verify}[args.step](args)


if __name__ == '__main__':
    sys.exit(main())
