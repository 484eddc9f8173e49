"""Run the Alipay simulator alone: ``python -m simulators.alipay [--port 8702] [--config-out FILE]``."""

from simulators.alipay.server import AlipaySim
from simulators.provider_main import main

if __name__ == "__main__":
    main(AlipaySim(), "支付宝模拟器 Alipay simulator", "simulators.alipay", 8702)
