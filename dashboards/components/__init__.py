"""Reusable pieces of pages: stat cards, tables (more in later issues: time picker, panels)."""
