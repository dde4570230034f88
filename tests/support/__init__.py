"""Helpers more than one test module uses: here, never imported from another test module."""
