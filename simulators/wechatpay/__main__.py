"""Run the WeChat Pay simulator alone: ``python -m simulators.wechatpay [--port 8701] [--config-out FILE]``."""

from simulators.provider_main import main
from simulators.wechatpay.server import WeChatPaySim

if __name__ == "__main__":
    main(WeChatPaySim(), "微信支付模拟器 WeChat Pay simulator", "simulators.wechatpay", 8701)
