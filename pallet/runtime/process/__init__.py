"""The container's processes: the parent side, the init (stage 1 and 2), and their typed sync protocol."""
