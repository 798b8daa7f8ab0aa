"""Campaigns: the published notice, its channels, phases and checklist."""
