"""Messaging simulators: Aliyun SMS, WeChat template messages, a webhook receiver (``server.py``)."""
