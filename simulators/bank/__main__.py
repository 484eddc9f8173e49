"""Run the bank simulator alone: ``python -m simulators.bank [--port 8705] [--config-out FILE]``."""

from simulators.bank.server import BankSim
from simulators.provider_main import main

if __name__ == "__main__":
    main(BankSim(), "银企直连 模拟器 bank simulator", "simulators.bank", 8705)
