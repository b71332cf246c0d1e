"""cgroup v1 controllers, one module per controller, and the v1 (and hybrid) manager.

Each controller module has `NAME` (its hierarchy), a pure
`plan(resources) -> Plan`, `apply(resources, dir) -> warnings` and,
where the controller reports anything, `stats(dir)`.
"""
