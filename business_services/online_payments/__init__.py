"""Online payments through head office: WeChat Pay and Alipay orders, their callbacks and refunds
(docs/online-payments.md). Station servers reach it with ``station_client.HeadOfficeProvider``."""
