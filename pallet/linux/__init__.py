"""Thin syscall layer: one small typed function per syscall, no policy."""
