"""Routing: units, rules, assignments, the report state machine, deadlines and escalation."""
