"""Equipment: minimal maintenance work orders (维修工单) — the equipment, the fault, who, the status — opened by
hand or from a high-priority alarm in the alarm console. The full equipment ledger comes later. docs/alarm-console.md.
"""
