"""Reusable parts of PPOG: losses, buffers, schedules. Imports nothing else of the package."""
