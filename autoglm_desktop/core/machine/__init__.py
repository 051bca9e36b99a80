"""What this PC has right now: RAM, swap, CPU cores and load, GPUs and their free memory.

May import only ``core.common``.
"""
