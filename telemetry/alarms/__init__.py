"""The alarm engine (ISA-18.2): rules, life cycle, journal, alarm.* events. docs/alarms.md."""
