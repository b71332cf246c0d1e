"""cgroup v2 controllers, one module per controller, and the v2 manager.

Same shape as v1/: `NAME`, a pure `plan(resources) -> Plan`,
`apply(resources, dir) -> warnings`, `stats(dir)`. On a hybrid host the
v1 manager uses some of these on the cgroup2 mount (hugetlb, freezer,
kill, devices are v1 there; only what the unified mount owns).
"""
