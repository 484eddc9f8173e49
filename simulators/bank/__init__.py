"""A bank's enterprise direct link (银企直连) simulator: transaction detail query and signed incoming-transfer
notifications (``server.py``; docs/simulators.md, "Bank")."""
