"""Run the messaging simulator alone: ``python -m simulators.messaging [--port 8703] [--config-out FILE]``."""

from simulators.messaging.server import MessagingSim
from simulators.provider_main import main

if __name__ == "__main__":
    main(MessagingSim(), "短信/微信/Webhook 模拟器 messaging simulator", "simulators.messaging", 8703)
