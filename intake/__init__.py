"""Intake: channels, sanitising, extraction, classification and registration of reports."""
