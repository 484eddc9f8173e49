from tests.integration.online_payments.support import head_office  # noqa: F401   (the fixture: head office and the
#                                                                               WeChat Pay simulator on real ports)
