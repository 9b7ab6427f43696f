# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""`ansible-playbook labops.dlstack.site --check` on a fresh host: says what it would do, changes nothing, fails nothing."""

from __future__ import annotations

from dlstack_faults import gpu_vars, lab_vars, run_playbook, snapshot, snapshot_diff, start_container, write_inventory


def test_site_check_mode_on_a_fresh_host(lab, tmp_path, reports):
    # A fresh Debian 12 host with two lab users and a GeForce RTX 3090 owned by nouveau (recorded):
    # every stage has work to do (CA, driver, CUDA toolkit, conda for both users, torch for both users).
    container = start_container('check')
    host_vars = dict(gpu_vars('rtx3090-nouveau'), dlstack_cuda_toolkit=True)
    inventory = write_inventory(tmp_path / 'inventory.yml', {'ws-check': (container, host_vars)}, lab_vars(reports))
    before = snapshot(container)

    run = run_playbook(tmp_path / 'check.log', inventory, check=True)

    stats = run.stats.get('ws-check', {})
    assert run.rc == 0, run.summary('ws-check')
    assert stats.get('failures', 0) == 0 and stats.get('unreachable', 0) == 0, run.summary('ws-check')
    # it reports what it would do: one task per stage at least
    would = [name.split(' : ', 1)[-1] for name in run.changed_tasks('ws-check')]
    for expected in ('Install certificates', 'Blacklist nouveau', 'Write the archive components source file',
                     'Write the profile script', 'Mark as in progress the first installation for alice',
                     'Mark as in progress the first installation for bob', "Install each layer's wheels",
                     'Create each environment'):
        assert any(name.startswith(expected) for name in would), (expected, would)
    # and changes nothing
    assert snapshot_diff(before, snapshot(container)) == []
